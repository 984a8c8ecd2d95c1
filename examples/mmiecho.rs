//! `mmiecho.py`, the zguide's MMI example (chapter 4, "Service Discovery"):
//! through the client API (`mdcliapi`) it asks the broker at
//! `tcp://localhost:5555` whether the `echo` service is there, sending
//! `echo` to the broker's internal service `mmi.service`, and prints the
//! return code: `200` when the service has a worker, `400` when not.
//!
//! The port: the API is the shared module `mdp::mdcliapi`; its `send`
//! returns a Deferred, whose callback prints the answer and stops the
//! reactor.
//!
//! ```sh
//! cargo run --example mmiecho -- [-v] [--broker tcp://localhost:5555]
//! ```
//!
//! Prints `Lookup echo service: b'200'` (the code as Python 3 prints
//! bytes), or `E: no response from broker, make sure it's running`. Flags
//! the original does not have: `--service NAME` (`echo`), the service to
//! look up (the line then names it), and `--timeout-ms MS` (2500) and
//! `--retries N` (3) for the API.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{bytes_repr, ZmqFactory};
use tx0mq::Reactor;

mod mdp;
mod pyport;

use mdp::mdcliapi::MajorDomoClient;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let client = MajorDomoClient::new(&reactor, &factory, &args.broker, args.verbose)?;
    client.set_timeout(args.timeout);
    client.set_retries(args.retries);
    let request = vec![args.service.clone().into_bytes()];
    let reply = reactor.run_until_complete(client.send(b"mmi.service", request))??;
    match reply.as_ref().and_then(|reply| reply.first()) {
        Some(replycode) => println!("Lookup {} service: {}", args.service, bytes_repr(replycode)),
        None => println!("E: no response from broker, make sure it's running"),
    }
    Ok(())
}

/// Asks the broker whether a service is there (zguide's mmiecho.py).
#[derive(Parser)]
struct Args {
    /// Print every message in and out
    #[arg(short, long)]
    verbose: bool,
    /// The broker
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5555")]
    broker: String,
    /// The service to look up
    #[arg(long, value_name = "NAME", default_value = "echo")]
    service: String,
    /// How long to wait for the reply, each try, in milliseconds
    #[arg(long = "timeout-ms", value_name = "MS", default_value = "2500", value_parser = pyport::millis)]
    timeout: Duration,
    /// How many times to send the request before giving up
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    retries: u32,
}

fn main() -> ExitCode {
    pyport::main(run)
}
