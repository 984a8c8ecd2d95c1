//! `psenvsub.py`, the zguide's pub-sub envelope subscriber (chapter 2,
//! "Pub-Sub Message Envelopes"): a SUB socket connected to
//! `tcp://localhost:5563` subscribes to key `B` and prints each message's
//! envelope and contents, `[b'B'] b'We would like to see this'`. Its other
//! half is `psenvpub.py` (or this crate's `psenvpub`).
//!
//! The port: a `ZmqSubConnection` hands over a two-frame message `[key,
//! contents]` as `got_message(contents, key)`, so the port reads like txZMQ.
//!
//! ```sh
//! cargo run --example psenvsub        # with psenvpub running
//! ```
//!
//! Prints `[b'B'] b'We would like to see this'` once a second; the `A`
//! messages never arrive. Flag: `--endpoint` (default the original's
//! `tcp://localhost:5563`).

use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{bytes_repr, ZmqEndpoint, ZmqFactory, ZmqSubConnection};
use tx0mq::Reactor;

mod pyport;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    let subscriber = ZmqSubConnection::new(&factory, ZmqEndpoint::connect(args.endpoint))?;
    subscriber.subscribe(b"B")?;
    // Read envelope with address
    subscriber.got_message(|_, contents, address| {
        println!("[{}] {}", bytes_repr(&address), bytes_repr(&contents));
    });

    reactor.run()?;
    Ok(())
}

/// Prints the B envelopes a publisher sends (zguide's psenvsub.py).
#[derive(Parser)]
struct Args {
    /// Endpoint of the publisher
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5563")]
    endpoint: String,
}

fn main() -> ExitCode {
    pyport::main(run)
}
