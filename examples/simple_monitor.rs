//! `simple_monitor.py`, pyzmq's socket-monitoring example
//! (`examples/monitoring/` in pyzmq): it prints the libzmq version and
//! pyzmq's table of `EVENT_*` constants, monitors a REQ socket
//! (`get_monitor_socket`) from a thread that prints each event as
//! `recv_monitor_message` decodes it, then walks the REQ through binding
//! `tcp://127.0.0.1:6666` and `:6667`, a REP connecting to both,
//! disconnecting and closing, with a sleep after each step; it disables the
//! monitor (the thread prints `MONITOR_STOPPED` and ends), shows that a new
//! REP's comings and goings are no longer reported, and closes everything.
//!
//! The port: no thread and no sleeps. The REQ connection is monitored with
//! [`Connection::monitor`](tx0mq::connections::Connection::monitor) and the
//! events reach an `on_monitor` closure in the reactor; each step is a
//! timer (`call_later`) that schedules the next. `disable_monitor` is
//! `stop_monitor`, which delivers the monitor's last events,
//! `MONITOR_STOPPED` among them; disconnecting an endpoint goes through
//! `with_socket` (there is no `disconnect` method). The printed lines are
//! the original's under the interop environment's pyzmq 27, which prints
//! an event's id and value as its `zmq.Event` flag type
//! (`'value': <Event.CONNECTED|CONNECT_RETRIED|LISTENING: 13>` for the
//! descriptor 13); the first line names the libzmq this program is linked
//! with.
//!
//! ```text
//! cargo run --example simple_monitor
//! cargo run --example simple_monitor -- --first tcp://127.0.0.1:7000 --second tcp://127.0.0.1:7001 --delay-ms 200
//! ```
//!
//! `--first` and `--second` (defaults: the original's two endpoints) are
//! what the REQ binds; `--delay-ms` (default 1000) is the original's
//! one-second sleep, and its 0.2 s sleeps are a fifth of it.

use std::collections::VecDeque;
use std::error::Error;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{zmq, MonitorEvent, ZmqConnection, ZmqEndpoint, ZmqFactory};
use tx0mq::{Ctx, Reactor};

mod pyport;
use pyport::monitor::{event_line, event_names};

/// One step of the walk-through; returns how long to wait before the next.
type Step = Box<dyn FnOnce() -> Result<Duration, Box<dyn Error>>>;

fn line() {
    println!("{}", "-".repeat(40));
}

fn run(args: Args) -> Result<(), Box<dyn Error>> {
    let (long, short) = (args.delay, args.delay / 5);
    let (first, second) = (args.first, args.second);

    let (major, minor, patch) = zmq::version();
    println!("libzmq-{major}.{minor}.{patch}");
    println!("Event names:");
    for (name, value) in event_names() {
        println!("{name:>21} : {value:>4}");
    }

    // The reactor's state: the error a step failed with, if any.
    let reactor = Reactor::builder().state(None::<String>).build()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let rep = ZmqConnection::new(&factory, zmq::REP, Vec::new())?;
    let req = ZmqConnection::new(&factory, zmq::REQ, Vec::new())?;
    // The REP of the end, which nobody monitors.
    let late_rep = ZmqConnection::new(&factory, zmq::REP, Vec::new())?;

    req.monitor()?;
    req.on_monitor(|_, event| {
        println!("{}", event_line(event));
        if let MonitorEvent::MonitorStopped { .. } = event {
            println!();
            println!("event monitor thread done!");
        }
    });

    let disconnect =
        |conn: &ZmqConnection<Option<String>>, endpoint: &str| -> Result<(), Box<dyn Error>> {
            conn.with_socket(|s| s.disconnect(endpoint))?
                .map_err(|e| format!("disconnect {endpoint}: {e}").into())
        };
    let mut steps: VecDeque<Step> = VecDeque::new();
    {
        let (req, first, second) = (req.clone(), first.clone(), second.clone());
        steps.push_back(Box::new(move || {
            line();
            println!("bind req");
            req.add_endpoints([ZmqEndpoint::bind(&first), ZmqEndpoint::bind(&second)])?;
            Ok(long)
        }));
    }
    {
        let (rep, second) = (rep.clone(), second.clone());
        steps.push_back(Box::new(move || {
            line();
            println!("connect rep");
            rep.add_endpoints(ZmqEndpoint::connect(&second))?;
            Ok(short)
        }));
    }
    {
        let (rep, first) = (rep.clone(), first.clone());
        steps.push_back(Box::new(move || {
            rep.add_endpoints(ZmqEndpoint::connect(&first))?;
            Ok(long)
        }));
    }
    {
        let (rep, second) = (rep.clone(), second.clone());
        steps.push_back(Box::new(move || {
            line();
            println!("disconnect rep");
            disconnect(&rep, &second)?;
            Ok(long)
        }));
    }
    {
        let (rep, first) = (rep.clone(), first.clone());
        steps.push_back(Box::new(move || {
            disconnect(&rep, &first)?;
            Ok(long)
        }));
    }
    steps.push_back(Box::new(move || {
        line();
        println!("close rep");
        rep.shutdown();
        Ok(long)
    }));
    {
        let (req, late_rep, second) = (req.clone(), late_rep.clone(), second.clone());
        steps.push_back(Box::new(move || {
            line();
            println!("disabling event monitor");
            req.stop_monitor();
            line();
            println!("event monitor thread should now terminate");
            // A new socket connects to the listener: no more events.
            line();
            println!("connect rep");
            late_rep.add_endpoints(ZmqEndpoint::connect(&second))?;
            Ok(short)
        }));
    }
    {
        let late_rep = late_rep.clone();
        steps.push_back(Box::new(move || {
            line();
            println!("disconnect rep");
            disconnect(&late_rep, &second)?;
            Ok(short)
        }));
    }
    steps.push_back(Box::new(move || {
        line();
        println!("close rep");
        late_rep.shutdown();
        line();
        println!("close req");
        req.shutdown();
        println!("END");
        Ok(Duration::ZERO)
    }));

    reactor.call_when_running(move |cx| next(cx, steps));
    reactor.run()?;
    match reactor.access_state(Option::take)? {
        Some(error) => Err(error.into()),
        None => Ok(()),
    }
}

/// Runs the next step, then schedules the one after it; stops the reactor
/// after the last step, or at the first that fails.
fn next(cx: &mut Ctx<'_, Option<String>>, mut steps: VecDeque<Step>) {
    let Some(step) = steps.pop_front() else {
        let _ = cx.reactor.stop();
        return;
    };
    match step() {
        Ok(_) if steps.is_empty() => {
            let _ = cx.reactor.stop();
        }
        Ok(wait) => {
            cx.reactor.call_later(wait, move |cx| next(cx, steps));
        }
        Err(e) => {
            *cx.state = Some(e.to_string());
            let _ = cx.reactor.stop();
        }
    }
}

/// Monitors a REQ socket while a REP connects to it and leaves (pyzmq's
/// examples/monitoring/simple_monitor.py).
#[derive(Parser)]
struct Args {
    /// First endpoint the REQ binds
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://127.0.0.1:6666")]
    first: String,
    /// Second endpoint the REQ binds
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://127.0.0.1:6667")]
    second: String,
    /// Milliseconds of the original's one-second sleeps (its short sleeps are a fifth)
    #[arg(long = "delay-ms", value_name = "MS", default_value = "1000", value_parser = pyport::millis)]
    delay: Duration,
}

fn main() -> ExitCode {
    pyport::main(run)
}
