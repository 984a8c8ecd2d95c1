//! `psenvpub.py`, the zguide's pub-sub envelope publisher (chapter 2,
//! "Pub-Sub Message Envelopes"): a PUB socket bound to `tcp://*:5563` sends
//! two two-frame messages, `[b"A", b"We don't want to see this"]` and
//! `[b"B", b"We would like to see this"]`, then sleeps a second, forever.
//! Its other half is `psenvsub.py` (or this crate's `psenvsub`).
//!
//! The port: the `while True: ...; time.sleep(1)` loop is a `LoopingCall`.
//! The frames are sent raw, `[key, contents]`, as pyzmq's `send_multipart`
//! does (not txZMQ's one-frame `tag + "\0" + message`).
//!
//! ```sh
//! cargo run --example psenvpub
//! cargo run --example psenvsub        # prints only the B messages
//! ```
//!
//! Prints nothing. Flags: `--endpoint` (default the original's
//! `tcp://*:5563`), `--interval-ms` (default 1000).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{zmq, ZmqConnection, ZmqEndpoint, ZmqFactory};
use tx0mq::{LoopingCall, Reactor};

mod pyport;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    let publisher = ZmqConnection::new(&factory, zmq::PUB, ZmqEndpoint::bind(&args.endpoint))?;
    let ticker = LoopingCall::new(&reactor, move |_| {
        // Write two messages, each with an envelope and content
        publisher.send(["A", "We don't want to see this"])?;
        publisher.send(["B", "We would like to see this"])
    });
    ticker.start(args.interval, true)?;

    reactor.run()?;
    Ok(())
}

/// Publishes an A and a B envelope every second (zguide's psenvpub.py).
#[derive(Parser)]
struct Args {
    /// Endpoint of the PUB socket
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:5563")]
    endpoint: String,
    /// Milliseconds between two rounds of messages
    #[arg(long = "interval-ms", default_value = "1000", value_name = "MS", value_parser = pyport::millis)]
    interval: Duration,
}

fn main() -> ExitCode {
    pyport::main(run)
}
