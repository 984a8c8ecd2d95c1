//! `wuproxy.py`, the zguide's weather update proxy (chapter 2,
//! "Intermediaries and Proxies"): a SUB socket connected to the weather
//! server at a LAN address (`192.168.55.210:5556`) and a PUB socket bound
//! on another (`10.1.1.0:8100`); a loop forwards every message, all its
//! parts, from the first to the second, forever.
//!
//! The port: both endpoints are flags, defaulting to a weather server on
//! this machine (`wuserver`'s `tcp://localhost:5556`) and the original's
//! public port (`tcp://*:8100`). Forwarding is one callback: each multipart
//! message from the SUB side is sent whole on the PUB side.
//!
//! ```sh
//! cargo run --example wuserver &
//! cargo run --example wuproxy
//! cargo run --example wuclient -- --connect tcp://localhost:8100
//! ```
//!
//! Prints nothing. Flags: `--frontend ENDPOINT` (where the weather server
//! is; connect), `--backend ENDPOINT` (our public endpoint; bind).

use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{zmq, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqSubConnection};
use tx0mq::Reactor;

mod pyport;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // This is where the weather server sits
    let frontend = ZmqSubConnection::new(&factory, ZmqEndpoint::connect(&args.frontend))?;
    // This is our public endpoint for subscribers
    let backend = ZmqConnection::new(&factory, zmq::PUB, ZmqEndpoint::bind(&args.backend))?;

    // Subscribe on everything
    frontend.subscribe(b"")?;
    // Shunt messages out to our own subscribers, all parts of each, untouched
    frontend.message_received(move |_, message| backend.send(message));

    reactor.run()?;
    Ok(())
}

/// Weather update proxy: republishes a weather server (zguide's
/// wuproxy.py).
#[derive(Parser)]
struct Args {
    /// Where the weather server is (connect)
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5556")]
    frontend: String,
    /// Our public endpoint for subscribers (bind)
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:8100")]
    backend: String,
}

fn main() -> ExitCode {
    pyport::main(run)
}
