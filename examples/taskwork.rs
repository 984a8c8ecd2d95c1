//! Task worker: pulls workloads from the ventilator, "works" for that many
//! milliseconds, and pushes an empty result to the sink. Port of the zguide's
//! `taskwork.py` (chapter 1).
//!
//! The original sleeps through each task. Here the work is a `call_later`;
//! while it runs, reading is paused (`pause_reading`), so the worker takes
//! one task at a time as the original does and the ventilator's load
//! balancing still means something. Runs until Ctrl-C.
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

use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqPullConnection, ZmqPushConnection};
use tx0mq::Reactor;

mod pyport;
use pyport::{first, Flags};

const USAGE: &str = "usage: taskwork [--connect ENDPOINT] [--sink ENDPOINT]
  --connect  endpoint of the ventilator (default tcp://localhost:5557)
  --sink     endpoint of the sink (default tcp://localhost:5558)";

fn main() -> ExitCode {
    env_logger::init();
    let flags = Flags::parse("taskwork", USAGE, &[("connect", None), ("sink", None)], 0);
    pyport::finish("taskwork", run(&flags))
}

fn run(flags: &Flags) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // Socket to receive messages on.
    let receiver = ZmqEndpoint::connect(flags.string("connect", "tcp://localhost:5557"));
    let receiver = ZmqPullConnection::new(&factory, receiver)?;
    // Socket to send messages to.
    let sender = ZmqEndpoint::connect(flags.string("sink", "tcp://localhost:5558"));
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
