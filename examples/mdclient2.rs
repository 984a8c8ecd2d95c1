//! `mdclient2.py`, the zguide's asynchronous Majordomo client example
//! (chapter 4, "Asynchronous Majordomo Pattern"): through the asynchronous
//! client API (`mdcliapi2`, a DEALER) it first sends `Hello world` to the
//! `echo` service of the broker at `tcp://localhost:5555` 100000 times
//! without waiting, then takes the replies, stopping early when none comes
//! for 2500 ms, and prints how many it got.
//!
//! The port: the API is the shared module `mdp::mdcliapi2` (the zguide's
//! `mdcliapi2.py`, a file of its own there). Its `send_all` feeds the
//! requests to the socket as it drains (the original's `send` blocks at the
//! high-water mark), and its `recv` returns a Deferred for the next reply
//! (`None` after the timeout), which the client's loop, an async function
//! run by the reactor, awaits.
//!
//! ```sh
//! cargo run --example mdclient2 -- [-v] [--broker tcp://localhost:5555]
//! ```
//!
//! Prints `100000 requests/replies processed` (fewer if replies stop
//! coming). Flags the original does not have, for tests: `--requests N`
//! (100000) and `--timeout-ms MS` (2500).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::ZmqFactory;
use tx0mq::{Failure, Reactor};

mod mdp;
mod pyport;

use mdp::mdcliapi2::MajorDomoClient;

/// Sends every request, then counts the replies.
async fn requests(client: MajorDomoClient, requests: u64) -> Result<u64, Failure> {
    let all = (0..requests).map(|_| vec![b"Hello world".to_vec()]);
    client.send_all(b"echo", all).await?;
    let mut count = 0;
    while count < requests {
        if client.recv().await?.is_none() {
            break; // also break on failure to reply
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
    let count = reactor.run_until_complete(requests(client, args.requests))??;
    println!("{count} requests/replies processed");
    Ok(())
}

/// Asynchronous Majordomo client (zguide's mdclient2.py).
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
    /// How long to wait for each reply, in milliseconds
    #[arg(long = "timeout-ms", value_name = "MS", default_value = "2500", value_parser = pyport::millis)]
    timeout: Duration,
}

fn main() -> ExitCode {
    pyport::main(run)
}
