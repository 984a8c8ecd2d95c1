//! Weather update proxy: subscribes to a weather server and republishes
//! everything to its own subscribers.
//!
//! Port of the zguide's `wuproxy.py` (chapter 2, "Intermediaries and
//! Proxies"). The original hard-codes two LAN addresses; here both
//! endpoints are flags, defaulting to a weather server on this machine
//! (`wuserver`'s `tcp://localhost:5556`) and the original's public port
//! (`tcp://*:8100`). Forwarding is one callback: each multipart message from
//! the SUB side is sent whole on the PUB side.
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

use tx0mq::connections::{zmq, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqSubConnection};
use tx0mq::Reactor;

const USAGE: &str = "usage: wuproxy [--frontend ENDPOINT] [--backend ENDPOINT]";

struct Args {
    frontend: String,
    backend: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        frontend: "tcp://localhost:5556".to_string(),
        backend: "tcp://*:8100".to_string(),
    };
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        let mut value = || argv.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--frontend" => args.frontend = value()?,
            "--backend" => args.backend = value()?,
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    Ok(args)
}

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

fn main() -> ExitCode {
    env_logger::init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("wuproxy: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wuproxy: {e}");
            ExitCode::FAILURE
        }
    }
}
