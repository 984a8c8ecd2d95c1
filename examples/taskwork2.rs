//! `taskwork2.py`, the zguide's task worker with kill signaling (chapter 2,
//! "Handling Errors and ETERM"): `taskwork.py` plus a SUB socket connected
//! to the sink's `tcp://localhost:5559`, polled together with the task
//! socket; any message there means "kill" and the worker exits. Its other
//! halves are `taskvent.py` and `tasksink2.py` (or this crate's `taskvent`
//! and `tasksink2`).
//!
//! The port: the two sockets are two connections, each with its own
//! callback: a task is worked on in a `call_later` with reading paused (one
//! task at a time, like the original's `sleep`), and a message on the
//! controller stops the reactor.
//!
//! ```text
//! cargo run --example taskwork2       # connects tcp://localhost:5557, :5558 and :5559
//! cargo run --example taskwork2 -- --connect ipc:///tmp/vent --sink ipc:///tmp/sink \
//!     --control ipc:///tmp/control
//! ```
//!
//! Prints a `.` per task, without newlines, and exits when the sink says so.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{
    ZmqEndpoint, ZmqFactory, ZmqPullConnection, ZmqPushConnection, ZmqSubConnection,
};
use tx0mq::Reactor;

mod pyport;
use pyport::first;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // Socket to receive messages on.
    let receiver = ZmqEndpoint::connect(args.connect);
    let receiver = ZmqPullConnection::new(&factory, receiver)?;
    // Socket to send messages to.
    let sender = ZmqEndpoint::connect(args.sink);
    let sender = ZmqPushConnection::new(&factory, sender)?;
    // Socket for control input.
    let controller = ZmqEndpoint::connect(args.control);
    let controller = ZmqSubConnection::new(&factory, controller)?;
    controller.subscribe(b"")?;

    // Process tasks.
    receiver.on_pull(move |cx, message| {
        let text = String::from_utf8_lossy(first(&message)).into_owned();
        let Ok(workload) = text.trim().parse::<u64>() else {
            log::warn!("dropped a task that is not a workload in msecs: {text:?}");
            return;
        };

        // Do the work (one task at a time), then send the result to the sink.
        cx.conn.pause_reading();
        let receiver = cx.conn.clone();
        let sender = sender.clone();
        cx.reactor
            .call_later(Duration::from_millis(workload), move |_| {
                receiver.resume_reading();
                sender.push(text)?;

                // Simple progress indicator for the viewer.
                print!(".");
                std::io::stdout().flush()?;
                Ok::<(), Box<dyn std::error::Error>>(())
            });
    });

    // Any waiting controller command acts as 'KILL'.
    controller.message_received(|cx, _command| {
        let _ = cx.reactor.stop(); // Err only if a second KILL finds it stopping already
    });

    reactor.run()?;
    Ok(())
}

/// Task worker, design 2: as taskwork, and exits on the sink's KILL
/// (zguide's taskwork2.py).
#[derive(Parser)]
struct Args {
    /// Endpoint of the ventilator
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5557")]
    connect: String,
    /// Endpoint of the sink
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5558")]
    sink: String,
    /// Endpoint of the sink's kill signal
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5559")]
    control: String,
}

fn main() -> ExitCode {
    pyport::main(run)
}
