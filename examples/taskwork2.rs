//! Task worker, design 2: as `taskwork`, plus a SUB socket on which any
//! message from the sink means "kill": the worker then stops. Port of the
//! zguide's `taskwork2.py` (chapter 2).
//!
//! The original polls its two sockets. Here they are two connections, each
//! with its own callback: a task is worked on in a `call_later` with reading
//! paused (one task at a time, like the original's `sleep`), and a message on
//! the controller stops the reactor.
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

use tx0mq::connections::{
    ZmqEndpoint, ZmqFactory, ZmqPullConnection, ZmqPushConnection, ZmqSubConnection,
};
use tx0mq::Reactor;

mod pyport;
use pyport::{first, Flags};

const USAGE: &str = "usage: taskwork2 [--connect ENDPOINT] [--sink ENDPOINT] [--control ENDPOINT]
  --connect  endpoint of the ventilator (default tcp://localhost:5557)
  --sink     endpoint of the sink (default tcp://localhost:5558)
  --control  endpoint of the sink's kill signal (default tcp://localhost:5559)";

fn main() -> ExitCode {
    env_logger::init();
    let spec = [("connect", None), ("sink", None), ("control", None)];
    let flags = Flags::parse("taskwork2", USAGE, &spec, 0);
    pyport::finish("taskwork2", run(&flags))
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
    // Socket for control input.
    let controller = ZmqEndpoint::connect(flags.string("control", "tcp://localhost:5559"));
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
