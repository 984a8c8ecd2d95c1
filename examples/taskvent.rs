//! `taskvent.py`, the zguide's task ventilator (chapter 1, "Divide and
//! Conquer"): it binds a PUSH socket on `tcp://*:5557` for the workers and
//! connects another to the sink on `tcp://localhost:5558`, waits for Enter
//! (`input()`), sends the sink `0` to start the batch, pushes 100 tasks
//! (random workloads of 1–100 ms), prints their total cost and sleeps a
//! second to let 0MQ deliver. Its other halves are `taskwork.py` and
//! `tasksink.py` (or `taskwork`/`taskwork2` and `tasksink`/`tasksink2`).
//!
//! The port: stdin is watched by the reactor's fd reader (`add_reader`), and
//! the final `time.sleep(1)` is a `call_later` that stops the reactor. Tasks
//! pushed before any worker is connected wait in the connection's outbox
//! (the original would block in `send` instead).
//!
//! ```text
//! cargo run --example taskvent        # binds tcp://*:5557, connects tcp://localhost:5558
//! cargo run --example taskvent -- --bind ipc:///tmp/vent --sink ipc:///tmp/sink
//! ```
//!
//! Start the sink (`tasksink`) and some workers (`taskwork`) first. Prints
//! `Press Enter when the workers are ready: `; after Enter, `Sending tasks to
//! workers...` and `Total expected cost: 5123 msec`, and exits a second later.

use std::io::Read;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqPushConnection};
use tx0mq::{Ctx, Reactor};

mod pyport;
use pyport::Random;

const TASKS: u32 = 100;

/// Set when stdin closed before Enter; makes the exit status 1.
#[derive(Default)]
struct Failed(bool);

/// The two sockets, as the Enter handler needs them.
#[derive(Clone)]
struct Vent {
    sender: ZmqPushConnection<Failed>,
    sink: ZmqPushConnection<Failed>,
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

    println!("Press Enter when the workers are ready: ");
    let mut typed = Vec::new();
    let on_stdin = {
        let vent = vent.clone();
        move |cx: &mut Ctx<'_, Failed>| match read_stdin(&mut typed)? {
            Typed::Nothing => Ok(()),
            Typed::Enter => {
                cx.reactor.remove_reader(std::io::stdin());
                send_tasks(cx, &vent)
            }
            Typed::End => {
                cx.reactor.remove_reader(std::io::stdin());
                give_up(cx)
            }
        }
    };
    if let Err(e) = reactor.add_reader(std::io::stdin(), on_stdin) {
        // A regular file (or /dev/null) cannot be polled, but reading it
        // never blocks either: read it as soon as the reactor runs.
        log::debug!("stdin cannot be polled ({e}); reading it directly");
        let mut typed = Vec::new();
        reactor.call_when_running(move |cx| loop {
            match read_stdin(&mut typed)? {
                Typed::Nothing => continue,
                Typed::Enter => return send_tasks(cx, &vent),
                Typed::End => return give_up(cx),
            }
        });
    }

    reactor.run()?;
    if reactor.access_state(|failed| failed.0)? {
        return Err("no tasks were sent".into());
    }
    Ok(())
}

/// What one read of stdin brought.
enum Typed {
    /// Some text, but no Enter yet.
    Nothing,
    /// A line was entered.
    Enter,
    /// Stdin ended before Enter.
    End,
}

/// Reads what stdin has now (one `read`, which does not block: the reactor
/// said it is readable) and says whether Enter was pressed.
fn read_stdin(typed: &mut Vec<u8>) -> std::io::Result<Typed> {
    let mut chunk = [0u8; 8192]; // std's stdin buffer size: nothing is left buffered
    let n = match std::io::stdin().lock().read(&mut chunk) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return Ok(Typed::Nothing),
        Err(e) => return Err(e),
    };
    typed.extend_from_slice(&chunk[..n]);
    Ok(if typed.contains(&b'\n') {
        Typed::Enter
    } else if n == 0 {
        Typed::End
    } else {
        Typed::Nothing
    })
}

/// Stdin closed before Enter (Python's `input()` raises `EOFError`).
fn give_up(cx: &mut Ctx<'_, Failed>) -> Result<(), Box<dyn std::error::Error>> {
    eprintln!("taskvent: stdin closed before Enter was pressed");
    cx.state.0 = true;
    cx.reactor.stop()?;
    Ok(())
}

fn send_tasks(cx: &mut Ctx<'_, Failed>, vent: &Vent) -> Result<(), Box<dyn std::error::Error>> {
    println!("Sending tasks to workers...");

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
    println!("Total expected cost: {total_msec} msec");

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
