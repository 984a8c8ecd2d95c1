//! Pub-sub envelope publisher: every second, two two-frame messages, one
//! under key `A` and one under key `B`.
//!
//! Port of the zguide's `psenvpub.py` (chapter 2, "Pub-Sub Message
//! Envelopes"); its other half is `psenvsub` (this crate's or the Python
//! one). The original's `while True: ...; time.sleep(1)` is a `LoopingCall`.
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

use tx0mq::connections::{zmq, ZmqConnection, ZmqEndpoint, ZmqFactory};
use tx0mq::{LoopingCall, Reactor};

const USAGE: &str = "usage: psenvpub [--endpoint ENDPOINT] [--interval-ms MILLISECONDS]";

struct Args {
    endpoint: String,
    interval: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        endpoint: "tcp://*:5563".to_string(),
        interval: Duration::from_secs(1),
    };
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        let mut value = || argv.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--endpoint" => args.endpoint = value()?,
            "--interval-ms" => {
                let ms = value()?.parse().map_err(|e| format!("{flag}: {e}"))?;
                args.interval = Duration::from_millis(ms);
            }
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    Ok(args)
}

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

fn main() -> ExitCode {
    env_logger::init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("psenvpub: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("psenvpub: {e}");
            ExitCode::FAILURE
        }
    }
}
