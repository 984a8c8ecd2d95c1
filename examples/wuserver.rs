//! Weather update server: publishes random `"zipcode temperature
//! relhumidity"` updates as fast as it can. Port of the zguide's
//! `wuserver.py` (chapter 1).
//!
//! The original publishes in an endless loop. Here a `LoopingCall` with a
//! zero interval publishes a batch on every pass of the reactor, so the
//! reactor stays responsive (Ctrl-C stops it cleanly) while publishing flat
//! out. Updates are plain one-frame strings, as pyzmq's `send_string` sends
//! them (not txZMQ's tagged frames), so `wuclient.py` can subscribe to them.
//!
//! ```text
//! cargo run --release --example wuserver                 # binds tcp://*:5556
//! cargo run --release --example wuserver -- --bind ipc:///tmp/weather
//! ```
//!
//! Prints nothing.

use std::process::ExitCode;
use std::time::Duration;

use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqPubConnection};
use tx0mq::{LoopingCall, Reactor};

mod pyport;
use pyport::{Flags, Random};

const USAGE: &str = "usage: wuserver [--bind ENDPOINT]
  --bind  endpoint of the PUB socket (default tcp://*:5556)";

/// Updates published per pass of the reactor.
const BATCH: usize = 1000;

fn main() -> ExitCode {
    env_logger::init();
    let flags = Flags::parse("wuserver", USAGE, &[("bind", None)], 0);
    pyport::finish("wuserver", run(&flags))
}

fn run(flags: &Flags) -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = flags.string("bind", "tcp://*:5556");

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
