//! `clonecli5.py`, the zguide's Clone client, model five (chapter 5,
//! "Ephemeral Values"): subscribes to the server's updates under the
//! subtree `/client/` (`tcp://localhost:5557`), asks for a snapshot of that
//! subtree (`["ICANHAZ?", "/client/"]` to `tcp://localhost:5556`, read until
//! `KTHXBAI`), then applies each update newer than what it has. Once a
//! second it also makes up an update of its own, `/client/<1..10000>` set to
//! `<1..1000000>` with a `ttl` of 0 to 30 seconds, and pushes it to the
//! server (`tcp://localhost:5558`). Its server is `clonesrv5`.
//!
//! The original polls the subscriber with a timeout that brings the next
//! update due. The port: the snapshot DEALER and the SUB are connections,
//! the updates a `LoopingCall`. The SUB is paused until the snapshot is in
//! (the original does not read it until then either), so that the updates
//! published meanwhile wait in libzmq and those the snapshot already holds
//! are dropped as out of sequence.
//!
//! ```sh
//! cargo run --example clonesrv5 &
//! cargo run --example clonecli5
//! ```
//!
//! Prints `I: Received snapshot=N`, then `I: received update=N` (or
//! `delete=N`) for each update applied; interrupted (Ctrl-C), ` Interrupted`
//! and `N messages in` (N: the last sequence number). Flags: `--address`
//! and `--port` (the server's; PORT+1 and PORT+2 for the others),
//! `--updates N` (make up N updates, then only listen; 0: none),
//! `--interval-ms` (between updates, default 1000), `--ttl SECS` (every
//! update's ttl, instead of a random 0 to 30), `--seed` (repeatable keys and
//! values), `--print-map` (on exit, the map: `map: KEY=VALUE` lines, then
//! `map: N keys`).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{zmq, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqSubConnection};
use tx0mq::{LoopingCall, Reactor};

mod kvmsg;
mod pyport;

use kvmsg::{KvMap, KvMsg};

/// The subtree this client shares.
const SUBTREE: &str = "/client/";

/// The client's state.
struct Client {
    /// The map as this client has it.
    kvmap: KvMap,
    /// The last sequence number applied.
    sequence: i64,
    /// Draws the keys, values and ttls.
    random: pyport::Random,
    /// Updates still to make up (`None`: forever).
    updates_left: Option<u64>,
    /// A fixed ttl, if given.
    ttl: Option<u32>,
}

impl Client {
    /// A made-up update, stored here too, or `None` once all are made.
    fn make_update(&mut self) -> Option<KvMsg> {
        match &mut self.updates_left {
            Some(0) => return None,
            Some(left) => *left -= 1,
            None => {}
        }
        let key = format!("{SUBTREE}{}", self.random.randint(1, 10000));
        let body = self.random.randint(1, 1_000_000).to_string();
        let ttl = match self.ttl {
            Some(ttl) => i64::from(ttl),
            None => self.random.randint(0, 30),
        };
        let mut kvmsg = KvMsg::with(0, key, body);
        kvmsg.set_prop(b"ttl", ttl.to_string());
        kvmsg.clone().store(&mut self.kvmap);
        Some(kvmsg)
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::with_state(Client {
        kvmap: KvMap::new(),
        sequence: 0,
        random: pyport::Random::from_seed(args.seed),
        updates_left: args.updates,
        ttl: args.ttl,
    })?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let at = |port: u32| ZmqEndpoint::connect(format!("{}:{port}", args.address));
    let port = u32::from(args.port);
    let snapshot = ZmqConnection::new(&factory, zmq::DEALER, at(port))?;
    let subscriber = ZmqSubConnection::new(&factory, at(port + 1))?;
    subscriber.subscribe(SUBTREE)?;
    subscriber.pause_reading(); // until the snapshot is in
    let publisher = ZmqConnection::new(&factory, zmq::PUSH, at(port + 2))?;

    // Our own updates, once the snapshot is in.
    let updates = LoopingCall::new(&reactor, move |cx| match cx.state.make_update() {
        Some(kvmsg) => kvmsg.send(&publisher),
        None => Ok(()),
    });

    // Get state snapshot
    snapshot.send(["ICANHAZ?", SUBTREE])?;
    let listening = subscriber.clone();
    let interval = args.interval;
    snapshot.message_received(move |cx, message| {
        let kvmsg = match KvMsg::from_frames(&message) {
            Ok(kvmsg) => kvmsg,
            Err(e) => {
                println!("E: bad snapshot message from the server, ignored: {e}");
                return Ok(());
            }
        };
        if kvmsg.key == b"KTHXBAI" {
            cx.state.sequence = kvmsg.sequence;
            println!("I: Received snapshot={}", cx.state.sequence);
            listening.resume_reading();
            updates.start(interval, false).map(drop)
        } else {
            kvmsg.store(&mut cx.state.kvmap);
            Ok(())
        }
    });

    subscriber.message_received(|cx, message| {
        let kvmsg = match KvMsg::from_frames(&message) {
            Ok(kvmsg) => kvmsg,
            Err(e) => {
                println!("E: bad update from the server, ignored: {e}");
                return;
            }
        };
        // Discard out-of-sequence kvmsgs, incl. heartbeats
        if kvmsg.sequence > cx.state.sequence {
            cx.state.sequence = kvmsg.sequence;
            let action = if kvmsg.body.is_empty() {
                "delete"
            } else {
                "update"
            };
            kvmsg.store(&mut cx.state.kvmap);
            println!("I: received {action}={}", cx.state.sequence);
        }
    });

    reactor.run()?;
    reactor.access_state(|client| {
        println!(" Interrupted\n{} messages in", client.sequence);
        if args.print_map {
            kvmsg::print_map(&client.kvmap);
        }
    })?;
    Ok(())
}

/// Clone client, model five: snapshot, then updates, plus updates of its
/// own with a time to live (zguide's clonecli5.py).
#[derive(Parser)]
struct Args {
    /// The server's address, without the port
    #[arg(long, default_value = "tcp://localhost")]
    address: String,
    /// The server's snapshot port (updates on PORT+1, collector on PORT+2)
    #[arg(long, default_value_t = 5556)]
    port: u16,
    /// Make up this many updates, then only listen [default: forever]
    #[arg(long)]
    updates: Option<u64>,
    /// Time between two updates
    #[arg(long = "interval-ms", value_parser = pyport::millis, default_value = "1000")]
    interval: Duration,
    /// Every update's ttl in seconds (0: none) [default: random, 0 to 30]
    #[arg(long)]
    ttl: Option<u32>,
    /// Seed the random keys and values, for a repeatable run
    #[arg(long)]
    seed: Option<u64>,
    /// On exit (Ctrl-C), print the map: `map: KEY=VALUE` lines, then `map: N keys`
    #[arg(long)]
    print_map: bool,
}

fn main() -> ExitCode {
    pyport::main(run)
}
