//! Task sink: waits for the ventilator's start-of-batch message, collects
//! 100 results from the workers, and prints how long the batch took. Port of
//! the zguide's `tasksink.py` (chapter 1).
//!
//! The original loops on a blocking `recv`. Here each result arrives in a
//! callback; the clock starts at the first message and the hundred-and-first
//! prints the elapsed time and stops the reactor.
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

use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqPullConnection};
use tx0mq::Reactor;

mod pyport;
use pyport::{float_repr, Flags};

const USAGE: &str = "usage: tasksink [--bind ENDPOINT]
  --bind  endpoint the workers push results to (default tcp://*:5558)";

const TASKS: u32 = 100;

fn main() -> ExitCode {
    env_logger::init();
    let flags = Flags::parse("tasksink", USAGE, &[("bind", None)], 0);
    pyport::finish("tasksink", run(&flags))
}

fn run(flags: &Flags) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // Socket to receive messages on.
    let receiver = ZmqEndpoint::bind(flags.string("bind", "tcp://*:5558"));
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
