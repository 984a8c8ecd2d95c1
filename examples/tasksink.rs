//! `tasksink.py`, the zguide's task sink (chapter 1, "Divide and Conquer"):
//! a PULL socket bound to `tcp://*:5558` waits for the ventilator's
//! start-of-batch message, collects 100 results from the workers (printing
//! `:` for every tenth and `.` for the others) and prints how long the batch
//! took. Its other halves are `taskvent.py` and `taskwork.py` (or this
//! crate's `taskvent` and `taskwork`).
//!
//! The port: each result arrives in a callback; the clock starts at the first
//! message and the hundred-and-first prints the elapsed time and stops the
//! reactor.
//!
//! ```text
//! cargo run --example tasksink        # binds tcp://*:5558
//! cargo run --example tasksink -- --bind ipc:///tmp/sink
//! ```
//!
//! Prints `:` for every tenth result and `.` for the others, then, on the same
//! line, `Total elapsed time: 1234.5678 msec`, and exits.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqPullConnection};
use tx0mq::Reactor;

mod pyport;
use pyport::float_repr;

const TASKS: u32 = 100;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // Socket to receive messages on.
    let receiver = ZmqEndpoint::bind(args.bind);
    let receiver = ZmqPullConnection::new(&factory, receiver)?;

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

        // Calculate and report duration of batch.
        if task_nbr == TASKS {
            let elapsed = started.elapsed().as_secs_f64();
            println!("Total elapsed time: {} msec", float_repr(elapsed * 1000.0));
            cx.reactor.stop()?;
        }
        Ok::<(), Box<dyn std::error::Error>>(())
    });

    reactor.run()?;
    Ok(())
}

/// Task sink: times a batch of 100 results (zguide's tasksink.py).
#[derive(Parser)]
struct Args {
    /// Endpoint the workers push results to
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:5558")]
    bind: String,
}

fn main() -> ExitCode {
    pyport::main(run)
}
