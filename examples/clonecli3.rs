//! `clonecli3.py`, the zguide's Clone client, model three (chapter 5,
//! "Republishing Updates from Clients"): it subscribes to the server's
//! updates (`tcp://localhost:5557`), asks for a snapshot of the map
//! (`ICANHAZ?` through a DEALER to `tcp://localhost:5556`) and stores it
//! until `KTHXBAI`, whose sequence number it keeps (printing `I: Received
//! snapshot=N`). Then it applies each update newer than that (printing
//! `I: received update=N`), discarding older ones, and once a second sends
//! an update of its own, a random key (1..10000) and body (1..1000000), to
//! the server's PULL socket (`tcp://localhost:5558`) through a PUSH, storing
//! it in its map at once. Its server is `clonesrv3`.
//!
//! The port: three connections and a timer. The request for the snapshot
//! goes out once the SUB connection's handshake is done, so its
//! subscription is on its way (the original asks at once, and loses what
//! is published before its subscription reaches the server). That narrows
//! the window without closing it: the server's PUB socket may take the
//! subscription in only after the snapshot is answered, and an update
//! published between the two is lost to this client, which cannot tell
//! (`clonecli2` can, and asks again). The SUB connection is paused until
//! the snapshot is in (the original does not read it before), so the
//! updates published meanwhile wait in its queue, up to its high-water
//! mark, and are then filtered by sequence number; the once-a-second update is a
//! `LoopingCall` started after the snapshot. A malformed message is
//! reported and ignored.
//!
//! ```sh
//! cargo run --example clonesrv3 &
//! cargo run --example clonecli3
//! ```
//!
//! On Ctrl-C prints ` Interrupted` and `N messages in` (N the last sequence
//! number), as the original does. Beyond it: `--until N` stops once its
//! sequence number reaches N (printing `N messages in` alone), and either
//! way the last line is `I: map holds K keys, digest HEX` (see
//! `examples/kvsimple/mod.rs`). Flags: `--snapshot`, `--subscriber`,
//! `--publisher` (the server's three endpoints, connected),
//! `--interval-ms` (between its own updates, 1000), `--updates N` (make
//! only N), `--seed N`, `--until N`.

use std::cell::RefCell;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{zmq, Error, ZmqConnection, ZmqEndpoint, ZmqFactory};
use tx0mq::{LoopingCall, Reactor};

mod kvsimple;
mod pyport;

use kvsimple::{KvMap, KvMsg};

/// The client's state.
struct Client {
    /// The sequence number of the newest update applied.
    sequence: i32,
    map: KvMap,
    random: pyport::Random,
    /// How many updates of its own it sent.
    sent: u64,
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
        random: pyport::Random::from_seed(args.seed),
        sent: 0,
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
    let publisher = ZmqConnection::new(&factory, zmq::PUSH, ZmqEndpoint::connect(&args.publisher))?;
    // Nothing is read from the updates before the snapshot is in.
    subscriber.pause_reading();

    // The client's own updates, once the snapshot is in.
    let limit = args.updates;
    // It stops itself after --updates (through `me`, filled in below).
    let me = Rc::new(RefCell::new(None::<LoopingCall<Client>>));
    let this = me.clone();
    let generator = LoopingCall::new(&reactor, move |cx| {
        let client = &mut *cx.state;
        if limit.is_some_and(|limit| client.sent >= limit) {
            if let Some(generator) = this.borrow().as_ref() {
                generator.stop()?;
            }
            return Ok(());
        }
        let key = client.random.randint(1, 10_000).to_string();
        let body = client.random.randint(1, 1_000_000).to_string();
        let update = KvMsg::with(0, key, body);
        update.send(&publisher)?;
        update.store(&mut client.map);
        client.sent += 1;
        Ok::<(), Error>(())
    });

    *me.borrow_mut() = Some(generator.clone());

    // Get state snapshot
    let until = args.until;
    let interval = args.interval;
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
            println!("I: Received snapshot={}", entry.sequence);
            updates.resume_reading();
            generator.start(interval, false)?;
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
            println!("I: received update={}", update.sequence);
            check_until(&mut cx.ctx(), until)?;
        }
        Ok::<(), Error>(())
    });

    reactor.run()?;
    if reactor.exit_signal().is_some() {
        println!(" Interrupted");
    }
    reactor.access_state(|client| {
        println!("{} messages in", client.sequence);
        kvsimple::print_digest(&client.map);
    })?;
    Ok(())
}

/// Clone client, model three: a snapshot, then the updates, and updates of
/// its own (zguide's clonecli3.py).
#[derive(Parser)]
struct Args {
    /// The server's snapshot socket (connect)
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5556")]
    snapshot: String,
    /// The server's updates (connect)
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5557")]
    subscriber: String,
    /// Where our updates go (connect)
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5558")]
    publisher: String,
    /// The pause between our updates (0: one on every pass of the reactor)
    #[arg(long = "interval-ms", value_name = "MS", value_parser = pyport::millis, default_value = "1000")]
    interval: Duration,
    /// Send only this many updates of our own [default: no limit]
    #[arg(long, value_name = "N")]
    updates: Option<u64>,
    /// Seed our keys and bodies, for a repeatable run
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// Stop once our sequence number reaches N [default: never]
    #[arg(long, value_name = "N")]
    until: Option<i64>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
