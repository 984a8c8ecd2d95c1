//! `mdworker.py`, the zguide's Majordomo worker example (chapter 4,
//! "Service-Oriented Reliable Queuing (Majordomo Pattern)"): through the
//! worker API (`mdwrkapi`) it offers the `echo` service at the broker
//! `tcp://localhost:5555` and answers each request with the request itself,
//! heartbeating the broker and reconnecting when it goes silent.
//!
//! The port: the API is the shared module `mdp::mdwrkapi` (the zguide's
//! `mdwrkapi.py`, a file of its own there). The original's loop, `request =
//! worker.recv(reply)`, becomes the handler the worker calls with each
//! request; what it returns is the reply.
//!
//! ```sh
//! cargo run --example mdworker -- [-v] [--broker tcp://localhost:5555]
//! ```
//!
//! Prints nothing; with `-v`, every message in and out. Runs until
//! interrupted.

use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::ZmqFactory;
use tx0mq::Reactor;

mod mdp;
mod pyport;

use mdp::mdwrkapi::MajorDomoWorker;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    // Echo is complex... :-)
    let worker = MajorDomoWorker::new(
        &reactor,
        &factory,
        &args.broker,
        b"echo",
        args.verbose,
        |request| request,
    )?;
    reactor.run()?;
    worker.destroy();
    Ok(())
}

/// Majordomo worker: the echo service (zguide's mdworker.py).
#[derive(Parser)]
struct Args {
    /// Print every message in and out
    #[arg(short, long)]
    verbose: bool,
    /// The broker
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5555")]
    broker: String,
}

fn main() -> ExitCode {
    pyport::main(run)
}
