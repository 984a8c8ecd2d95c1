//! Pub-sub envelope subscriber: subscribes to key `B` and prints each
//! message's envelope and contents.
//!
//! Port of the zguide's `psenvsub.py` (chapter 2, "Pub-Sub Message
//! Envelopes"); its other half is `psenvpub` (this crate's or the Python
//! one). A `ZmqSubConnection` hands over a two-frame message `[key,
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

use tx0mq::connections::{bytes_repr, ZmqEndpoint, ZmqFactory, ZmqSubConnection};
use tx0mq::Reactor;

const USAGE: &str = "usage: psenvsub [--endpoint ENDPOINT]";

fn parse_args() -> Result<String, String> {
    let mut endpoint = "tcp://localhost:5563".to_string();
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        match flag.as_str() {
            "--endpoint" => endpoint = argv.next().ok_or("--endpoint needs a value")?,
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    Ok(endpoint)
}

fn run(endpoint: String) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    let subscriber = ZmqSubConnection::new(&factory, ZmqEndpoint::connect(endpoint))?;
    subscriber.subscribe(b"B")?;
    // Read envelope with address
    subscriber.got_message(|_, contents, address| {
        println!("[{}] {}", bytes_repr(&address), bytes_repr(&contents));
    });

    reactor.run()?;
    Ok(())
}

fn main() -> ExitCode {
    env_logger::init();
    let endpoint = match parse_args() {
        Ok(endpoint) => endpoint,
        Err(e) => {
            eprintln!("psenvsub: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(endpoint) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("psenvsub: {e}");
            ExitCode::FAILURE
        }
    }
}
