//! `taskvent.py`, the zguide's task ventilator (chapter 1, "Divide and
//! Conquer"): it binds a PUSH socket on `tcp://*:5557` for the workers and
//! connects another to the sink on `tcp://localhost:5558`, waits for Enter
//! (`input()`), sends the sink `0` to start the batch, pushes 100 tasks
//! (random workloads of 1–100 ms), prints their total cost and sleeps a
//! second to let 0MQ deliver. Its other halves are `taskwork.py` and
//! `tasksink.py` (or `taskwork`/`taskwork2` and `tasksink`/`tasksink2`).
//!
//! The port: `input()` is a `LineReceiver` on `StandardIO`, Twisted's way
//! to read the terminal or a pipe without blocking the reactor (a regular
//! file or `/dev/null` as stdin works too). Its first line sends the
//! tasks; end-of-file before it makes the exit status 1 (`input()` raises
//! `EOFError`). The lines printed after Enter are written through the same
//! transport, which owns stdout while it is open, and the final
//! `time.sleep(1)` is a `call_later` that stops the reactor. Tasks pushed
//! before any worker is connected wait in the connection's outbox (the
//! original would block in `send` instead).
//!
//! ```text
//! cargo run --example taskvent        # binds tcp://*:5557, connects tcp://localhost:5558
//! cargo run --example taskvent -- --bind ipc:///tmp/vent --sink ipc:///tmp/sink
//! ```
//!
//! Start the sink (`tasksink`) and some workers (`taskwork`) first. Prints
//! `Press Enter when the workers are ready: `; after Enter, `Sending tasks to
//! workers...` and `Total expected cost: 5123 msec`, and exits a second later.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqPushConnection};
use tx0mq::net::basic::{LineCtx, LineProtocol, LineReceiver};
use tx0mq::net::{Reason, StandardIO};
use tx0mq::Reactor;

mod pyport;
use pyport::Random;

const TASKS: u32 = 100;

/// Set when stdin closed before Enter; makes the exit status 1.
#[derive(Default)]
struct Failed(bool);

/// The two sockets, as the Enter handler needs them.
struct Vent {
    sender: ZmqPushConnection<Failed>,
    sink: ZmqPushConnection<Failed>,
}

/// `input()`: waits for a line on stdin.
struct Prompt {
    vent: Vent,
    sent: bool,
}

impl LineProtocol<Failed> for Prompt {
    fn line_received(&mut self, cx: &mut LineCtx<'_, Failed>, _line: &[u8]) {
        if std::mem::replace(&mut self.sent, true) {
            return;
        }
        // Nothing more is read; what is written below is flushed first.
        cx.transport.lose_connection();
        if let Err(e) = send_tasks(cx, &self.vent) {
            eprintln!("taskvent: {e}");
            cx.state.0 = true;
            let _ = cx.reactor.stop();
        }
    }

    fn connection_lost(&mut self, cx: &mut LineCtx<'_, Failed>, reason: &Reason) {
        // The reactor's own shutdown (SIGINT before Enter) closes standard
        // I/O too: that is not stdin closing.
        if !self.sent && !matches!(reason, Reason::ReactorShutdown) {
            // Stdin closed before Enter (Python's `input()` raises `EOFError`).
            eprintln!("taskvent: stdin closed before Enter was pressed");
            cx.state.0 = true;
            let _ = cx.reactor.stop();
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::with_state(Failed::default())?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // Socket to send messages on.
    let sender = ZmqEndpoint::bind(args.bind);
    let sender = ZmqPushConnection::new(&factory, sender)?;
    // Socket with direct access to the sink: used to synchronize start of batch.
    let sink = ZmqEndpoint::connect(args.sink);
    let sink = ZmqPushConnection::new(&factory, sink)?;
    let vent = Vent { sender, sink };

    // Asked once the reactor runs, so Ctrl-C at the prompt is already the
    // reactor's clean stop.
    reactor.call_when_running(|_| println!("Press Enter when the workers are ready: "));
    let prompt = Prompt { vent, sent: false };
    let _stdin = StandardIO::new(&reactor, LineReceiver::new(prompt).delimiter(b"\n"))?;

    reactor.run()?;
    if reactor.access_state(|failed| failed.0)? {
        return Err("no tasks were sent".into());
    }
    Ok(())
}

fn send_tasks(cx: &mut LineCtx<'_, Failed>, vent: &Vent) -> Result<(), Box<dyn std::error::Error>> {
    cx.transport.write("Sending tasks to workers...\n")?;

    // The first message is "0" and signals start of batch.
    vent.sink.push(b"0")?;

    // Send 100 tasks, each a random workload from 1 to 100 msecs.
    let mut random = Random::new();
    let mut total_msec = 0;
    for _ in 0..TASKS {
        let workload = random.randint(1, 100);
        total_msec += workload;
        vent.sender.push(workload.to_string())?;
    }
    cx.transport
        .write(format!("Total expected cost: {total_msec} msec\n"))?;

    // Give 0MQ time to deliver.
    cx.reactor
        .call_later(Duration::from_secs(1), |cx| cx.reactor.stop());
    Ok(())
}

/// Task ventilator: on Enter, 100 tasks to the workers (zguide's taskvent.py).
#[derive(Parser)]
struct Args {
    /// Endpoint the workers pull tasks from
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:5557")]
    bind: String,
    /// Endpoint of the sink
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5558")]
    sink: String,
}

fn main() -> ExitCode {
    pyport::main(run)
}
