//! Reading from multiple sockets with a poller: tasks from the ventilator
//! (PULL) and weather updates for zipcode 10001 (SUB). Port of the zguide's
//! `mspoller.py` (chapter 2).
//!
//! The original registers both sockets with a `zmq.Poller` and reads
//! whichever is ready. The reactor is that poller: each socket is a
//! connection, and its callback is called when it has a message.
//!
//! ```text
//! cargo run --example mspoller        # connects tcp://localhost:5557 and :5556
//! cargo run --example mspoller -- --tasks ipc:///tmp/vent --weather ipc:///tmp/weather --count 5
//! ```
//!
//! Prints nothing, like the original, and runs until Ctrl-C (where the
//! original breaks out of its loop on `KeyboardInterrupt`, the reactor stops
//! cleanly on SIGINT). With `--count N` it stops once N tasks and N weather
//! updates have arrived and prints `Processed N tasks and M weather updates`.

use std::process::ExitCode;

use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqPullConnection, ZmqSubConnection};
use tx0mq::Reactor;

mod pyport;
use pyport::Flags;

const USAGE: &str = "usage: mspoller [--tasks ENDPOINT] [--weather ENDPOINT] [--count N]
  --tasks    endpoint of the task ventilator (default tcp://localhost:5557)
  --weather  endpoint of the weather server (default tcp://localhost:5556)
  --count    stop after N tasks and N weather updates, and say so (default: run forever)";

/// What both sockets' callbacks share: how much was processed.
struct Processed {
    tasks: u64,
    updates: u64,
    stop_after: Option<u64>,
}

impl Processed {
    /// With `--count`: stops the reactor once enough of both kinds arrived.
    fn check_done(&mut self, reactor: &Reactor<Processed>) {
        if let Some(count) = self.stop_after {
            if self.tasks >= count && self.updates >= count {
                let (tasks, updates) = (self.tasks, self.updates);
                println!("Processed {tasks} tasks and {updates} weather updates");
                self.stop_after = None;
                let _ = reactor.stop();
            }
        }
    }
}

fn main() -> ExitCode {
    env_logger::init();
    let spec = [("tasks", None), ("weather", None), ("count", None)];
    let flags = Flags::parse("mspoller", USAGE, &spec, 0);
    pyport::finish("mspoller", run(&flags))
}

fn run(flags: &Flags) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::with_state(Processed {
        tasks: 0,
        updates: 0,
        stop_after: flags.optional("count"),
    })?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // Connect to task ventilator.
    let receiver = ZmqEndpoint::connect(flags.string("tasks", "tcp://localhost:5557"));
    let receiver = ZmqPullConnection::new(&factory, receiver)?;
    // Connect to weather server.
    let subscriber = ZmqEndpoint::connect(flags.string("weather", "tcp://localhost:5556"));
    let subscriber = ZmqSubConnection::new(&factory, subscriber)?;
    subscriber.subscribe(b"10001")?;

    // The reactor polls both sockets and calls whichever is ready.
    receiver.on_pull(|cx, _message| {
        // process task
        cx.state.tasks += 1;
        cx.state.check_done(cx.reactor);
    });
    subscriber.message_received(|cx, _message| {
        // process weather update
        cx.state.updates += 1;
        cx.state.check_done(cx.reactor);
    });

    reactor.run()?;
    Ok(())
}
