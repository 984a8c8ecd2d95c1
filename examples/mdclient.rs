//! `mdclient.py`, the zguide's Majordomo client example (chapter 4,
//! "Service-Oriented Reliable Queuing (Majordomo Pattern)"): through the
//! client API (`mdcliapi`) it sends `Hello world` to the `echo` service of
//! the broker at `tcp://localhost:5555`, 100000 times one after the other,
//! stops early when a request goes unanswered after every retry, and prints
//! how many requests were answered.
//!
//! The port: the API is the shared module `mdp::mdcliapi` (the zguide's
//! `mdcliapi.py`, a file of its own there); its `send` returns a Deferred,
//! which the client's loop, one async function run by the reactor, awaits.
//!
//! ```sh
//! cargo run --example mdclient -- [-v] [--broker tcp://localhost:5555]
//! ```
//!
//! Prints `100000 requests/replies processed` (fewer if the broker or the
//! workers stop answering). Flags the original does not have, for tests:
//! `--requests N` (100000), `--timeout-ms MS` (2500) and `--retries N` (3)
//! for the API, and `--numbered`, which sends `Hello world 1`, `Hello world
//! 2`, ... and checks that each reply echoes its own request (a mismatch
//! prints `E: request ... answered with ...` and exits 1).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{bytes_repr, ZmqFactory};
use tx0mq::{Failure, Reactor};

mod mdp;
mod pyport;

use mdp::mdcliapi::MajorDomoClient;

/// The request/reply loop: how many replies came, or the first mismatch.
async fn requests(client: MajorDomoClient, args: Args) -> Result<u64, Failure> {
    let mut count = 0;
    while count < args.requests {
        let body = if args.numbered {
            format!("Hello world {}", count + 1)
        } else {
            "Hello world".to_string()
        };
        let Some(reply) = client
            .send(b"echo", vec![body.clone().into_bytes()])
            .await?
        else {
            break; // also break on failure to reply
        };
        if args.numbered && reply != [body.as_bytes()] {
            let frames: Vec<String> = reply.iter().map(|f| bytes_repr(f)).collect();
            return Err(Failure::msg(format!(
                "E: request {} answered with [{}]",
                bytes_repr(body.as_bytes()),
                frames.join(", ")
            )));
        }
        count += 1;
    }
    Ok(count)
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let client = MajorDomoClient::new(&reactor, &factory, &args.broker, args.verbose)?;
    client.set_timeout(args.timeout);
    client.set_retries(args.retries);
    let count = reactor.run_until_complete(requests(client, args))??;
    println!("{count} requests/replies processed");
    Ok(())
}

/// Majordomo client: echo requests one at a time (zguide's mdclient.py).
#[derive(Parser)]
struct Args {
    /// Print every message in and out
    #[arg(short, long)]
    verbose: bool,
    /// The broker
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5555")]
    broker: String,
    /// How many requests to send
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    requests: u64,
    /// How long to wait for each reply, each try, in milliseconds
    #[arg(long = "timeout-ms", value_name = "MS", default_value = "2500", value_parser = pyport::millis)]
    timeout: Duration,
    /// How many times to send a request before giving up
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    retries: u32,
    /// Number the requests and check that each reply echoes its own
    #[arg(long)]
    numbered: bool,
}

fn main() -> ExitCode {
    pyport::main(run)
}
