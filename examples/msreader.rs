//! `msreader.py`, the zguide's multiple-socket reader (chapter 2, "Handling
//! Multiple Sockets"): a PULL socket connected to the task ventilator on
//! `tcp://localhost:5557` and a SUB socket connected to the weather server
//! on `tcp://localhost:5556` (zipcode `10001`). It spins: it drains each
//! socket with non-blocking `recv`s, then sleeps a millisecond, and so puts
//! task traffic first. It prints nothing.
//!
//! The port: on a reactor there is nothing to spin: each socket is a
//! connection with its own callback, called when a message is there, and the
//! process sleeps in the kernel otherwise. There is no priority between the
//! two; `mspoller` is the same program (as it is the one the zguide
//! recommends).
//!
//! ```text
//! cargo run --example msreader        # connects tcp://localhost:5557 and :5556
//! cargo run --example msreader -- --tasks ipc:///tmp/vent --weather ipc:///tmp/weather --count 5
//! ```
//!
//! Prints nothing, like the original, and runs until Ctrl-C. With `--count
//! N` it stops once N tasks and N weather updates have arrived and prints
//! `Processed N tasks and M weather updates`.

use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqPullConnection, ZmqSubConnection};
use tx0mq::Reactor;

mod pyport;

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

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::with_state(Processed {
        tasks: 0,
        updates: 0,
        stop_after: args.count,
    })?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // Connect to task ventilator.
    let receiver = ZmqEndpoint::connect(args.tasks);
    let receiver = ZmqPullConnection::new(&factory, receiver)?;
    // Connect to weather server.
    let subscriber = ZmqEndpoint::connect(args.weather);
    let subscriber = ZmqSubConnection::new(&factory, subscriber)?;
    subscriber.subscribe(b"10001")?;

    // Process messages from both sockets, as they arrive.
    receiver.on_pull(|cx, _task| {
        // process task
        cx.state.tasks += 1;
        cx.state.check_done(cx.reactor);
    });
    subscriber.message_received(|cx, _update| {
        // process weather update
        cx.state.updates += 1;
        cx.state.check_done(cx.reactor);
    });

    reactor.run()?;
    Ok(())
}

/// Reads tasks and weather updates as they come (zguide's msreader.py).
#[derive(Parser)]
struct Args {
    /// Endpoint of the task ventilator
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5557")]
    tasks: String,
    /// Endpoint of the weather server
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5556")]
    weather: String,
    /// Stop after N tasks and N weather updates, and say so [default: run forever]
    #[arg(long, value_name = "N")]
    count: Option<u64>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
