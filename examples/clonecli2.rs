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
//! way (the original asks at once). On its way is not yet in force: the
//! server's PUB socket may take the subscription in only after the state
//! manager has answered, and an update published between the two never
//! reaches this client. So the updates are read from the start and kept
//! until the snapshot is in, then applied in order, those the snapshot
//! already holds discarded (the original leaves them queued in its socket,
//! where the SUB's high-water mark drops them if the snapshot is large);
//! and an update that is not the next one in sequence means some were
//! missed: the client prints `I: update N does not follow M, asking for a
//! new snapshot`, drops its map and asks again, keeping the updates that
//! arrive meanwhile. A malformed message is reported and ignored.
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
    /// While a snapshot is awaited: the updates received meanwhile.
    pending: Option<Vec<KvMsg>>,
}

impl Client {
    /// Takes an update from the stream: kept while a snapshot is awaited;
    /// after it, discarded if the map already holds it and applied if it is
    /// the next one. A later one means updates were missed: the map is
    /// dropped and the update kept for after a new snapshot. Returns whether
    /// a new snapshot must be asked for.
    fn take(&mut self, update: KvMsg) -> bool {
        if let Some(pending) = &mut self.pending {
            pending.push(update);
            return false;
        }
        // Discard out-of-sequence updates
        if update.sequence <= self.sequence {
            return false;
        }
        if update.sequence == self.sequence.wrapping_add(1) {
            self.sequence = update.sequence;
            update.store(&mut self.map);
            return false;
        }
        println!(
            "I: update {} does not follow {}, asking for a new snapshot",
            update.sequence, self.sequence
        );
        self.map.clear();
        self.pending = Some(vec![update]);
        true
    }

    /// The snapshot is in, up to `sequence`: applies the updates kept
    /// meanwhile. Returns whether a new snapshot must be asked for.
    fn synced(&mut self, sequence: i32) -> bool {
        self.sequence = sequence;
        let mut kept = self.pending.take().unwrap_or_default().into_iter();
        while let Some(update) = kept.next() {
            if self.take(update) {
                if let Some(pending) = &mut self.pending {
                    pending.extend(kept);
                }
                return true;
            }
        }
        false
    }
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
        pending: Some(Vec::new()),
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

    // Get state snapshot
    let until = args.until;
    let asker = snapshot.clone();
    snapshot.message_received(move |cx, message| {
        if cx.state.pending.is_none() {
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
            println!("Received snapshot={}", entry.sequence);
            if cx.state.synced(entry.sequence) {
                asker.send(b"ICANHAZ?")?;
            }
            return check_until(&mut cx.ctx(), until);
        }
        entry.store(&mut cx.state.map);
        Ok::<(), Error>(())
    });

    let asker = snapshot.clone();
    subscriber.message_received(move |cx, message| {
        let update = match KvMsg::parse(&message) {
            Ok(update) => update,
            Err(why) => {
                println!("E: bad update from the server ({why}), ignored");
                return Ok(());
            }
        };
        if cx.state.take(update) {
            asker.send(b"ICANHAZ?")?;
        }
        check_until(&mut cx.ctx(), until)
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
