//! `tasksink2.py`, the zguide's task sink with kill signaling (chapter 2,
//! "Handling Errors and ETERM"): `tasksink.py` plus a PUB socket bound to
//! `tcp://*:5559` on which it sends `KILL` to the workers once the batch is
//! done; the elapsed time is printed in whole milliseconds (`%d`). Its other
//! halves are `taskvent.py` and `taskwork2.py` (or this crate's `taskvent`
//! and `taskwork2`).
//!
//! The port: each result arrives in a callback; after the hundredth the sink
//! prints the elapsed time, publishes the kill signal and stops the reactor
//! (the sockets' linger gives the signal time to go out).
//!
//! ```text
//! cargo run --example tasksink2       # binds tcp://*:5558 and tcp://*:5559
//! cargo run --example tasksink2 -- --bind ipc:///tmp/sink --control ipc:///tmp/control
//! ```
//!
//! Prints `:` for every tenth result and `.` for the others, then, on the same
//! line, `Total elapsed time: 1234 msec`, and exits.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqPubConnection, ZmqPullConnection};
use tx0mq::Reactor;

mod pyport;

const TASKS: u32 = 100;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // Socket to receive messages on.
    let receiver = ZmqEndpoint::bind(args.bind);
    let receiver = ZmqPullConnection::new(&factory, receiver)?;
    // Socket for worker control.
    let controller = ZmqEndpoint::bind(args.control);
    let controller = ZmqPubConnection::new(&factory, controller)?;

    // The first message is the start of the batch: start our clock then.
    let mut tstart: Option<Instant> = None;
    let mut task_nbr = 0;
    receiver.on_pull(move |cx, _message| {
        if task_nbr == TASKS {
            return Ok(()); // done; the reactor is stopping
        }
        let Some(started) = tstart else {
            tstart = Some(Instant::now());
            return Ok(());
        };

        // Process 100 confirmations.
        print!("{}", if task_nbr % 10 == 0 { ':' } else { '.' });
        std::io::stdout().flush()?;
        task_nbr += 1;

        if task_nbr == TASKS {
            // Calculate and report duration of batch (whole msecs, as `%d`).
            let total_msec = started.elapsed().as_secs_f64() * 1000.0;
            println!("Total elapsed time: {} msec", total_msec.trunc());

            // Send kill signal to workers.
            controller.send(b"KILL")?;
            cx.reactor.stop()?;
        }
        Ok::<(), Box<dyn std::error::Error>>(())
    });

    reactor.run()?;
    Ok(())
}

/// Task sink, design 2: times a batch, then sends KILL to the workers
/// (zguide's tasksink2.py).
#[derive(Parser)]
struct Args {
    /// Endpoint the workers push results to
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:5558")]
    bind: String,
    /// Endpoint the kill signal is published on
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:5559")]
    control: String,
}

fn main() -> ExitCode {
    pyport::main(run)
}
