//! `clonesrv1.py`, the zguide's Clone server, model one (chapter 5,
//! "Reliable Publish-Subscribe (Clone Pattern)"): a PUB socket on
//! `tcp://*:5556`; after a fifth of a second (for subscribers to connect)
//! it sends key-value updates as fast as it can, forever: each a
//! [`kvsimple`] message with the next sequence number, a random key
//! (1..10000) and a random body (1..1000000), which it also stores in its
//! own map. Its client is `clonecli1`.
//!
//! The port: the publishing loop is a `LoopingCall` on the reactor, started
//! by a `call_later` after the pause; by default it runs on every pass of
//! the reactor (`--interval-ms 0`), one update a pass.
//!
//! ```sh
//! cargo run --example clonecli1 &
//! cargo run --example clonesrv1
//! ```
//!
//! On Ctrl-C prints ` Interrupted` and `N messages out`, as the original
//! does. Beyond it: `--updates N` stops after N updates (printing `N
//! messages out` alone), and either way the last line is `I: map holds K
//! keys, digest HEX` (see `examples/kvsimple/mod.rs`), for a test to compare
//! with the client's. Flags: `--publisher ENDPOINT` (bind),
//! `--settle-ms` (the pause, 200), `--interval-ms` (between updates, 0),
//! `--updates N`, `--seed N` (repeatable keys and bodies).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{zmq, Error, ZmqConnection, ZmqEndpoint, ZmqFactory};
use tx0mq::{LoopingCall, Reactor};

mod kvsimple;
mod pyport;

use kvsimple::{KvMap, KvMsg};

/// The server's state: the last sequence number sent and the map.
struct Server {
    sequence: i32,
    map: KvMap,
    random: pyport::Random,
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::with_state(Server {
        sequence: 0,
        map: KvMap::new(),
        random: pyport::Random::from_seed(args.seed),
    })?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let publisher = ZmqConnection::new(&factory, zmq::PUB, ZmqEndpoint::bind(&args.publisher))?;

    let limit = args.updates;
    let ticker = LoopingCall::new(&reactor, move |cx| {
        let server = &mut *cx.state;
        if limit.is_some_and(|limit| u64::try_from(server.sequence).unwrap_or(0) >= limit) {
            cx.reactor.stop()?;
            return Ok(());
        }
        // Distribute as key-value message
        server.sequence = server.sequence.wrapping_add(1);
        let key = server.random.randint(1, 10_000).to_string();
        let body = server.random.randint(1, 1_000_000).to_string();
        let message = KvMsg::with(server.sequence, key, body);
        message.send(&publisher)?;
        message.store(&mut server.map);
        Ok::<(), Error>(())
    });
    let interval = args.interval;
    reactor.call_later(args.settle, move |_| ticker.start(interval, true).map(drop));

    reactor.run()?;
    if reactor.exit_signal().is_some() {
        println!(" Interrupted");
    }
    reactor.access_state(|server| {
        println!("{} messages out", server.sequence);
        kvsimple::print_digest(&server.map);
    })?;
    Ok(())
}

/// Clone server, model one: publishes random key-value updates (zguide's
/// clonesrv1.py).
#[derive(Parser)]
struct Args {
    /// Where the updates are published (bind)
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:5556")]
    publisher: String,
    /// The pause before the first update, for subscribers to connect
    #[arg(long = "settle-ms", value_name = "MS", value_parser = pyport::millis, default_value = "200")]
    settle: Duration,
    /// The pause between updates (0: one on every pass of the reactor)
    #[arg(long = "interval-ms", value_name = "MS", value_parser = pyport::millis, default_value = "0")]
    interval: Duration,
    /// Stop after this many updates [default: never]
    #[arg(long, value_name = "N")]
    updates: Option<u64>,
    /// Seed the keys and bodies, for a repeatable run
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
