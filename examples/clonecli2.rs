//! `clonecli2.py`, the zguide's Clone client, model two (chapter 5,
//! "Getting an Out-of-Band Snapshot"): it subscribes to the server's
//! updates (`tcp://localhost:5557`), asks for a snapshot of the map
//! (`ICANHAZ?` through a DEALER to `tcp://localhost:5556`) and stores it
//! until `KTHXBAI`, whose sequence number it keeps (printing `Received
//! snapshot=N`); then it applies each update newer than that and discards
//! the older ones, until interrupted. Its server is `clonesrv2`.
//!
//! The port: two connections. The request for the snapshot goes out once
//! the SUB connection's handshake is done, so its subscription is on its
//! way and no update published after the snapshot can be missed (the
//! original asks at once, and loses what is published before its
//! subscription reaches the server). The SUB connection is paused until
//! the snapshot is in (the original does not read it before), so the
//! updates published meanwhile wait in its queue and are then filtered by
//! sequence number. A malformed message is reported and ignored.
//!
//! ```sh
//! cargo run --example clonesrv2 &
//! cargo run --example clonecli2
//! ```
//!
//! Prints `Received snapshot=N`, then nothing (as the original). Beyond it:
//! `--until N` stops once its sequence number reaches N, and on stopping (or
//! Ctrl-C) it prints `I: map holds K keys, digest HEX` (see
//! `examples/kvsimple/mod.rs`), for a test to compare with the server's.
//! Flags: `--snapshot`, `--subscriber` (the server's endpoints, connected),
//! `--until N`.

use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{zmq, Error, ZmqConnection, ZmqEndpoint, ZmqFactory};
use tx0mq::Reactor;

mod kvsimple;
mod pyport;

use kvsimple::{KvMap, KvMsg};

/// The client's state.
struct Client {
    /// The sequence number of the newest update applied.
    sequence: i32,
    map: KvMap,
}

/// Stops the reactor if `until` is reached.
fn check_until(cx: &mut tx0mq::Ctx<'_, Client>, until: Option<i64>) -> Result<(), Error> {
    if until.is_some_and(|until| i64::from(cx.state.sequence) >= until) {
        cx.reactor.stop()?;
    }
    Ok(())
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::with_state(Client {
        sequence: 0,
        map: KvMap::new(),
    })?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let snapshot = ZmqConnection::new(&factory, zmq::DEALER, ZmqEndpoint::connect(&args.snapshot))?;
    // Subscribe, and ask for the snapshot once the subscription is on its
    // way.
    let asker = snapshot.clone();
    let subscriber = kvsimple::subscriber(&factory, &args.subscriber, b"", move |_| {
        asker.send(b"ICANHAZ?")
    })?;
    // Nothing is read from the updates before the snapshot is in.
    subscriber.pause_reading();

    // Get state snapshot
    let until = args.until;
    let updates = subscriber.clone();
    let mut synced = false;
    snapshot.message_received(move |cx, message| {
        if synced {
            println!("E: a message from the snapshot socket after KTHXBAI, ignored");
            return Ok(());
        }
        let entry = match KvMsg::parse(&message) {
            Ok(entry) => entry,
            Err(why) => {
                println!("E: bad snapshot entry from the server ({why}), ignored");
                return Ok(());
            }
        };
        if entry.key.as_deref() == Some(b"KTHXBAI") {
            synced = true;
            cx.state.sequence = entry.sequence;
            println!("Received snapshot={}", entry.sequence);
            updates.resume_reading();
            return check_until(&mut cx.ctx(), until);
        }
        entry.store(&mut cx.state.map);
        Ok::<(), Error>(())
    });

    subscriber.message_received(move |cx, message| {
        let update = match KvMsg::parse(&message) {
            Ok(update) => update,
            Err(why) => {
                println!("E: bad update from the server ({why}), ignored");
                return Ok(());
            }
        };
        // Discard out-of-sequence updates
        if update.sequence > cx.state.sequence {
            cx.state.sequence = update.sequence;
            update.store(&mut cx.state.map);
            check_until(&mut cx.ctx(), until)?;
        }
        Ok::<(), Error>(())
    });

    reactor.run()?;
    reactor.access_state(|client| kvsimple::print_digest(&client.map))?;
    Ok(())
}

/// Clone client, model two: a snapshot, then the updates (zguide's
/// clonecli2.py).
#[derive(Parser)]
struct Args {
    /// The server's snapshot socket (connect)
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5556")]
    snapshot: String,
    /// The server's updates (connect)
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5557")]
    subscriber: String,
    /// Stop once our sequence number reaches N [default: never]
    #[arg(long, value_name = "N")]
    until: Option<i64>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
