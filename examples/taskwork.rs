//! `taskwork.py`, the zguide's task worker (chapter 1, "Divide and
//! Conquer"): it pulls workloads from the ventilator on
//! `tcp://localhost:5557`, prints a `.` and sleeps that many milliseconds for
//! each, then pushes an empty result to the sink on `tcp://localhost:5558`,
//! forever. Its other halves are `taskvent.py` and `tasksink.py` (or this
//! crate's `taskvent` and `tasksink`).
//!
//! The port: the work is a `call_later`; while it runs, reading is paused
//! (`pause_reading`), so the worker takes one task at a time as the original
//! does and the ventilator's load balancing still means something. Runs
//! until Ctrl-C.
//!
//! ```text
//! cargo run --example taskwork        # connects tcp://localhost:5557 and :5558
//! cargo run --example taskwork -- --connect ipc:///tmp/vent --sink ipc:///tmp/sink
//! ```
//!
//! Prints a `.` per task, without newlines.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqPullConnection, ZmqPushConnection};
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

    // Process tasks forever.
    receiver.on_pull(move |cx, message| {
        let text = String::from_utf8_lossy(first(&message));
        let Ok(workload) = text.trim().parse::<u64>() else {
            log::warn!("dropped a task that is not a workload in msecs: {text:?}");
            return Ok(());
        };

        // Simple progress indicator for the viewer.
        print!(".");
        std::io::stdout().flush()?;

        // Do the work, one task at a time; then send the result to the sink.
        cx.conn.pause_reading();
        let receiver = cx.conn.clone();
        let sender = sender.clone();
        cx.reactor
            .call_later(Duration::from_millis(workload), move |_| {
                receiver.resume_reading();
                sender.push(b"")
            });
        Ok::<(), Box<dyn std::error::Error>>(())
    });

    reactor.run()?;
    Ok(())
}

/// Task worker: does each task's workload, reports to the sink (zguide's
/// taskwork.py).
#[derive(Parser)]
struct Args {
    /// Endpoint of the ventilator
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5557")]
    connect: String,
    /// Endpoint of the sink
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5558")]
    sink: String,
}

fn main() -> ExitCode {
    pyport::main(run)
}
