//! `clonecli1.py`, the zguide's Clone client, model one (chapter 5,
//! "Reliable Publish-Subscribe (Clone Pattern)"): a SUB socket connected to
//! `clonesrv1` on `tcp://localhost:5556`, subscribed to everything; it stores
//! each [`kvsimple`] update in its map and counts them, until interrupted.
//!
//! The port: the receive loop is the SUB connection's callback. A message
//! that is not a key-value message is reported and ignored.
//!
//! ```sh
//! cargo run --example clonecli1 &
//! cargo run --example clonesrv1
//! ```
//!
//! On Ctrl-C prints `Interrupted` and `N messages in`, as the original
//! does. Beyond it: `--until N` stops after N updates (printing `N messages
//! in` alone), and either way the last line is `I: map holds K keys, digest
//! HEX` (see `examples/kvsimple/mod.rs`), the same as the server's when
//! nothing was lost. Flags: `--subscriber ENDPOINT` (connect), `--until N`.

use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{Error, ZmqEndpoint, ZmqFactory, ZmqSubConnection};
use tx0mq::Reactor;

mod kvsimple;
mod pyport;

use kvsimple::{KvMap, KvMsg};

/// The client's state: the map and how many updates came.
struct Client {
    map: KvMap,
    sequence: u64,
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::with_state(Client {
        map: KvMap::new(),
        sequence: 0,
    })?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let updates = ZmqSubConnection::new(&factory, ZmqEndpoint::connect(&args.subscriber))?;
    updates.subscribe(b"")?;

    let until = args.until;
    updates.message_received(move |cx, message| {
        match KvMsg::parse(&message) {
            Ok(update) => {
                update.store(&mut cx.state.map);
                cx.state.sequence += 1;
            }
            Err(why) => println!("E: bad update from the server ({why}), ignored"),
        }
        if until == Some(cx.state.sequence) {
            cx.reactor.stop()?;
        }
        Ok::<(), Error>(())
    });

    reactor.run()?;
    if reactor.exit_signal().is_some() {
        println!("Interrupted");
    }
    reactor.access_state(|client| {
        println!("{} messages in", client.sequence);
        kvsimple::print_digest(&client.map);
    })?;
    Ok(())
}

/// Clone client, model one: keeps a copy of the server's map from its
/// updates (zguide's clonecli1.py).
#[derive(Parser)]
struct Args {
    /// The server's updates (connect)
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5556")]
    subscriber: String,
    /// Stop after this many updates [default: never]
    #[arg(long, value_name = "N")]
    until: Option<u64>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
