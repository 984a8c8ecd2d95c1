//! Task sink, design 2: as `tasksink`, plus a PUB socket on which it sends
//! `KILL` to the workers when the batch is done. Port of the zguide's
//! `tasksink2.py` (chapter 2).
//!
//! Each result arrives in a callback; after the hundredth the sink prints
//! the elapsed time, publishes the kill signal and stops the reactor (the
//! sockets' linger gives the signal time to go out).
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

use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqPubConnection, ZmqPullConnection};
use tx0mq::Reactor;

mod pyport;
use pyport::Flags;

const USAGE: &str = "usage: tasksink2 [--bind ENDPOINT] [--control ENDPOINT]
  --bind     endpoint the workers push results to (default tcp://*:5558)
  --control  endpoint the kill signal is published on (default tcp://*:5559)";

const TASKS: u32 = 100;

fn main() -> ExitCode {
    env_logger::init();
    let flags = Flags::parse("tasksink2", USAGE, &[("bind", None), ("control", None)], 0);
    pyport::finish("tasksink2", run(&flags))
}

fn run(flags: &Flags) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // Socket to receive messages on.
    let receiver = ZmqEndpoint::bind(flags.string("bind", "tcp://*:5558"));
    let receiver = ZmqPullConnection::new(&factory, receiver)?;
    // Socket for worker control.
    let controller = ZmqEndpoint::bind(flags.string("control", "tcp://*:5559"));
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
