//! `wuserver.py`, the zguide's weather update server (chapter 1, "Getting
//! the Message Out"): a PUB socket bound to `tcp://*:5556` publishes random
//! `"zipcode temperature relhumidity"` strings in an endless loop, as fast
//! as it can. Its other half is `wuclient.py` (or this crate's `wuclient`).
//!
//! The port: a `LoopingCall` with a zero interval publishes a batch on every
//! pass of the reactor, so the reactor stays responsive (Ctrl-C stops it
//! cleanly) while publishing flat out. Updates are plain one-frame strings,
//! as pyzmq's `send_string` sends them (not txZMQ's tagged frames), so
//! `wuclient.py` can subscribe to them.
//!
//! ```text
//! cargo run --release --example wuserver                 # binds tcp://*:5556
//! cargo run --release --example wuserver -- --bind ipc:///tmp/weather
//! ```
//!
//! Prints nothing.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqPubConnection};
use tx0mq::{LoopingCall, Reactor};

mod pyport;
use pyport::Random;

/// Updates published per pass of the reactor.
const BATCH: usize = 1000;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = args.bind;

    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let socket = ZmqPubConnection::new(&factory, ZmqEndpoint::bind(endpoint))?;

    let mut random = Random::new();
    let publish = LoopingCall::new(&reactor, move |_| {
        for _ in 0..BATCH {
            let zipcode = random.randrange(1, 100_000);
            let temperature = random.randrange(-80, 135);
            let relhumidity = random.randrange(10, 60);
            socket.send(format!("{zipcode} {temperature} {relhumidity}"))?;
        }
        Ok::<(), tx0mq::connections::Error>(())
    });
    publish.start(Duration::ZERO, true)?;

    reactor.run()?;
    Ok(())
}

/// Weather update server: random updates, flat out (zguide's wuserver.py).
#[derive(Parser)]
struct Args {
    /// Endpoint of the PUB socket
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:5556")]
    bind: String,
}

fn main() -> ExitCode {
    pyport::main(run)
}
