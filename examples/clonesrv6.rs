//! `clonesrv6.py`, the zguide's Clone server, model six (chapter 5,
//! "Clone Server Reliability"): the model-five server as a Binary Star pair.
//! The primary (`-p`) serves snapshots on `tcp://*:5556`, publishes on 5557
//! and collects on 5558; the backup (`-b`) uses 5566, 5567, 5568. The two
//! watch each other with the Binary Star reactor (states on `tcp://*:5003`
//! and `tcp://*:5004`), whose voter is the snapshot ROUTER: a client's
//! `ICANHAZ?` is what makes a passive server take over once its peer is
//! silent.
//!
//! Clients publish each update to both servers. The active server (master)
//! numbers it, publishes it and applies it; the passive one (slave) keeps it
//! on a pending list, subscribes to the master's updates (after asking it for
//! a snapshot), applies them under the master's numbers and crosses each off
//! its pending list by UUID. On taking over, the slave numbers, publishes and
//! applies what is still pending: the updates the master never published.
//! The master publishes `HUGZ` (with its sequence) every second, which is how
//! clients tell that it lives, and deletes the keys whose `ttl` has passed.
//! Its client is `clonecli6` (the `clone` API).
//!
//! The original runs on pyzmq's IOLoop with `bstar.py`; the port runs on the
//! reactor with `examples/bstar/mod.rs` (the same state machine, the voter a
//! ROUTER connection), its becoming active or passive as the module's
//! `on_active`/`on_passive` callbacks, the collector and the subscriber as
//! connections, HUGZ and the TTL flush as `LoopingCall`s. The slave's
//! snapshot request, a blocking loop in the original, is a DEALER
//! connection here: the master's updates that arrive meanwhile are held and
//! applied once the snapshot is in.
//!
//! ```sh
//! cargo run --example clonesrv6 -- -p &
//! cargo run --example clonesrv6 -- -b &
//! cargo run --example clonecli6
//! ```
//!
//! Prints the Binary Star lines (`I: connected to backup (slave), ready as
//! master`, `I: failover successful, ready as master`, `CLIENT REQUEST` for
//! each snapshot request served, ...) and, with a timestamp as the original
//! logs them, `I: publishing update=N`, `I: publishing delete=N`, `I:
//! publishing pending=N`, `I: Sending state shapshot=N` (sic), `I: asking
//! for snapshot from: tcp://localhost:5556`, `I: received snapshot=N`, `I:
//! received update=N`. Malformed messages are reported (`E: bad ...,
//! ignored`) and the server goes on. It runs until interrupted (Ctrl-C);
//! `--print-map` then prints the map (`map: KEY=VALUE` lines, then `map: N
//! keys`). Flags: `--port` (ours, PORT+1 and PORT+2 too), `--peer` (the
//! peer's PORT), `--state-pub`, `--state-sub` (the Binary Star endpoints).
//!
//! Where it differs, and why: the master publishes the pending updates it
//! applies on taking over (the C original does; the Python one only applies
//! them, so clients never hear of them); pending updates are stamped with
//! their expiry when applied (the originals store their relative `ttl` as a
//! time, expiring them at once); only the master expires keys (the
//! originals' slave publishes deletes of its own, numbered out of step with
//! the master's); the snapshot ROUTER has no send high-water mark (at 1000
//! a large snapshot loses keys); a bad request is ignored rather than
//! stopping the server.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{
    zmq, Frame, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqOptions, ZmqSubConnection,
};
use tx0mq::{LoopingCall, Reactor};

mod bstar;
mod kvmsg;
mod pyport;

use bstar::BinaryStar;
use kvmsg::{log, KvMap, KvMsg};

/// The server's state, as the original's `CloneServer` holds it.
#[derive(Default)]
struct CloneServer {
    /// The key-value store; `None` on a slave until its snapshot is in.
    kvmap: Option<KvMap>,
    /// How many updates so far.
    sequence: i64,
    /// Updates from clients that the master has not published yet, and
    /// the master's updates whose client copy has not come yet.
    pending: Vec<KvMsg>,
    /// True while we are master.
    master: bool,
    /// True while we are slave.
    slave: bool,
    /// True while the slave waits for the master's snapshot.
    syncing: bool,
    /// The master's updates heard while syncing, to apply after it.
    held: Vec<KvMsg>,
}

/// The connections a server's callbacks use.
#[derive(Clone)]
struct Sockets {
    /// Publishes updates and HUGZ.
    publisher: ZmqConnection<CloneServer>,
    /// Gets updates from the peer (while slave).
    subscriber: ZmqSubConnection<CloneServer>,
    /// Asks the peer for a snapshot (while slave).
    snapshot: ZmqConnection<CloneServer>,
    /// The peer's snapshot endpoint, for the log.
    peer: String,
}

/// What the server's handlers return: a send's failure, logged by the reactor.
type Outcome = tx0mq::connections::Result<()>;

impl CloneServer {
    /// The map, made if there is none.
    fn map(&mut self) -> &mut KvMap {
        self.kvmap.get_or_insert_with(KvMap::new)
    }

    /// Numbers `kvmsg`, publishes it and applies it, stamping its `ttl`.
    fn publish(&mut self, sockets: &Sockets, mut kvmsg: KvMsg) -> Outcome {
        self.sequence += 1;
        kvmsg.sequence = self.sequence;
        kvmsg.send(&sockets.publisher)?;
        kvmsg.stamp_ttl(pyport::time_time());
        kvmsg.store(self.map());
        Ok(())
    }

    /// An update from a client: the master applies it, the slave holds it
    /// on its pending list (unless the master's copy came first).
    fn collect(&mut self, sockets: &Sockets, kvmsg: KvMsg) -> Outcome {
        if self.master {
            self.publish(sockets, kvmsg)?;
            log(format_args!("I: publishing update={}", self.sequence));
        } else if !self.was_pending(&kvmsg) {
            self.pending.push(kvmsg);
        }
        Ok(())
    }

    /// If a message with `kvmsg`'s UUID is on the pending list, takes it off
    /// and says so.
    fn was_pending(&mut self, kvmsg: &KvMsg) -> bool {
        match self.pending.iter().position(|held| held.uuid == kvmsg.uuid) {
            Some(index) => {
                self.pending.remove(index);
                true
            }
            None => false,
        }
    }

    /// An update from the master (we are slave): crosses it off the pending
    /// list (or puts it there, to cross off the client's copy when it comes)
    /// and applies it if it is newer than our map.
    fn apply_from_master(&mut self, kvmsg: KvMsg) {
        if kvmsg.key == b"HUGZ" {
            return;
        }
        if !self.was_pending(&kvmsg) {
            self.pending.push(kvmsg.clone());
        }
        if kvmsg.sequence > self.sequence {
            self.sequence = kvmsg.sequence;
            let mut kvmsg = kvmsg;
            kvmsg.stamp_ttl(pyport::time_time());
            kvmsg.store(self.map());
            log(format_args!("I: received update={}", self.sequence));
        }
    }

    /// Purges the keys whose time has passed, publishing each delete (the
    /// master only: a slave hears the master's deletes).
    fn flush_ttl(&mut self, sockets: &Sockets) -> Outcome {
        if !self.master {
            return Ok(());
        }
        let now = pyport::time_time();
        let expired: Vec<Vec<u8>> = self
            .map()
            .iter()
            .filter(|(_, kvmsg)| kvmsg.expired(now))
            .map(|(key, _)| key.clone())
            .collect();
        for key in expired {
            let Some(mut kvmsg) = self.map().remove(&key) else {
                continue;
            };
            kvmsg.body.clear();
            self.sequence += 1;
            kvmsg.sequence = self.sequence;
            kvmsg.send(&sockets.publisher)?;
            log(format_args!("I: publishing delete={}", self.sequence));
        }
        Ok(())
    }

    /// Becoming master: stop hearing the peer, apply (and publish) the
    /// pending list.
    fn become_master(&mut self, sockets: &Sockets) -> Outcome {
        self.master = true;
        self.slave = false;
        self.syncing = false;
        self.held.clear();
        sockets.subscriber.pause_reading();
        self.map();
        for kvmsg in std::mem::take(&mut self.pending) {
            self.publish(sockets, kvmsg)?;
            log(format_args!("I: publishing pending={}", self.sequence));
        }
        Ok(())
    }

    /// Becoming slave: forget the map (a snapshot from the master replaces
    /// it) and hear the master's updates.
    fn become_slave(&mut self, sockets: &Sockets) {
        self.kvmap = None;
        self.master = false;
        self.slave = true;
        self.syncing = false;
        self.held.clear();
        sockets.subscriber.resume_reading();
    }

    /// A message from the master's publisher.
    fn handle_subscriber(&mut self, sockets: &Sockets, message: &[Frame]) -> Outcome {
        if self.master {
            log("W: received subscriber message, but we are master");
            return Ok(());
        }
        let kvmsg = match KvMsg::from_frames(message) {
            Ok(kvmsg) => kvmsg,
            Err(e) => {
                println!("E: bad update from the peer, ignored: {e}");
                return Ok(());
            }
        };
        // Get state snapshot if necessary
        if self.kvmap.is_none() {
            self.kvmap = Some(KvMap::new());
            self.syncing = true;
            log(format_args!(
                "I: asking for snapshot from: {}",
                sockets.peer
            ));
            sockets.snapshot.send(["ICANHAZ?", ""])?;
        }
        if self.syncing {
            self.held.push(kvmsg);
        } else {
            self.apply_from_master(kvmsg);
        }
        Ok(())
    }

    /// A message of the snapshot the slave asked the master for.
    fn handle_snapshot_reply(&mut self, message: &[Frame]) {
        if !self.syncing {
            return; // an answer to a request of an earlier term
        }
        let kvmsg = match KvMsg::from_frames(message) {
            Ok(kvmsg) => kvmsg,
            Err(e) => {
                println!("E: bad snapshot message from the peer, ignored: {e}");
                return;
            }
        };
        if kvmsg.key == b"KTHXBAI" {
            self.sequence = kvmsg.sequence;
            self.syncing = false;
            log(format_args!("I: received snapshot={}", self.sequence));
            for kvmsg in std::mem::take(&mut self.held) {
                self.apply_from_master(kvmsg);
            }
        } else {
            kvmsg.store(self.map());
        }
    }
}

/// Answers a snapshot request `[identity, "ICANHAZ?", subtree]` on the
/// voter: each key under the subtree, then `KTHXBAI` with our sequence.
fn send_snapshot(
    server: &CloneServer,
    snapshot: &ZmqConnection<CloneServer>,
    request: &[Frame],
) -> Outcome {
    let (identity, subtree) = match request {
        [identity, command, subtree] if &command[..] == b"ICANHAZ?" => (identity, subtree),
        _ => {
            println!(
                "E: bad request, ignored: {}",
                pyport::bytes_list_repr(request)
            );
            return Ok(());
        }
    };
    for (key, kvmsg) in server.kvmap.iter().flatten() {
        if key.starts_with(subtree) {
            kvmsg.send_to(snapshot, identity)?;
        }
    }
    log(format_args!(
        "I: Sending state shapshot={}",
        server.sequence
    ));
    KvMsg::with(server.sequence, "KTHXBAI", subtree.to_vec()).send_to(snapshot, identity)
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let (port, peer, state_pub, state_sub) = if args.primary {
        (5556, 5566, "tcp://*:5003", "tcp://localhost:5004")
    } else if args.backup {
        (5566, 5556, "tcp://*:5004", "tcp://localhost:5003")
    } else {
        println!("Usage: clonesrv6 {{ -p | -b }}");
        return Ok(());
    };
    let port = u32::from(args.port.unwrap_or(port));
    let peer = u32::from(args.peer.unwrap_or(peer));
    let state_pub = args.state_pub.as_deref().unwrap_or(state_pub);
    let state_sub = args.state_sub.as_deref().unwrap_or(state_sub);

    let reactor = Reactor::with_state(CloneServer::default())?;
    if args.primary {
        reactor.access_state(|server| server.kvmap = Some(KvMap::new()))?;
    }
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let star = BinaryStar::new(&reactor, &factory, args.primary, state_pub, state_sub)?;
    // No send high-water mark: a ROUTER drops what it cannot queue, and a
    // snapshot is one message per key.
    let unbounded = ZmqOptions::new().sndhwm(0);
    star.register_voter_with_options(
        &format!("tcp://*:{port}"),
        zmq::ROUTER,
        &unbounded,
        |cx, request| send_snapshot(cx.state, cx.conn, &request),
    )?;

    // Set up our clone server sockets
    let bind = |port: u32| ZmqEndpoint::bind(format!("tcp://*:{port}"));
    let publisher = ZmqConnection::new(&factory, zmq::PUB, bind(port + 1))?;
    let collector = ZmqSubConnection::new(&factory, bind(port + 2))?;
    collector.subscribe(b"")?;
    // Set up our own clone client interface to peer
    let peer_at = |port: u32| ZmqEndpoint::connect(format!("tcp://localhost:{port}"));
    let subscriber = ZmqSubConnection::new(&factory, peer_at(peer + 1))?;
    subscriber.subscribe(b"")?;
    subscriber.pause_reading(); // until we are slave
    let linger = ZmqOptions::new().linger(Duration::ZERO);
    let snapshot = ZmqConnection::with_options(&factory, zmq::DEALER, peer_at(peer), &linger)?;
    let sockets = Sockets {
        publisher,
        subscriber: subscriber.clone(),
        snapshot: snapshot.clone(),
        peer: format!("tcp://localhost:{peer}"),
    };

    // Register state change handlers
    let on_active = sockets.clone();
    star.on_active(move |cx| {
        if let Err(e) = cx.state.become_master(&on_active) {
            println!("E: publishing the pending list failed: {e}");
        }
    });
    let on_passive = sockets.clone();
    star.on_passive(move |cx| cx.state.become_slave(&on_passive));

    let collecting = sockets.clone();
    collector.message_received(move |cx, message| match KvMsg::from_frames(&message) {
        Ok(kvmsg) => cx.state.collect(&collecting, kvmsg),
        Err(e) => {
            println!("E: bad update, ignored: {e}");
            Ok(())
        }
    });
    let subscribing = sockets.clone();
    subscriber
        .message_received(move |cx, message| cx.state.handle_subscriber(&subscribing, &message));
    snapshot.message_received(|cx, message| cx.state.handle_snapshot_reply(&message));

    let flushing = sockets.clone();
    let flush = LoopingCall::new(&reactor, move |cx| cx.state.flush_ttl(&flushing));
    flush.start(Duration::from_secs(1), false)?;
    let hugz = LoopingCall::new(&reactor, move |cx| {
        // Send hugz to anyone listening on the publisher socket
        KvMsg::with(cx.state.sequence, "HUGZ", "").send(&sockets.publisher)
    });
    hugz.start(Duration::from_secs(1), false)?;

    // Run bstar reactor until process interrupted
    let outcome = star.start();
    if args.print_map {
        reactor.access_state(|server| {
            kvmsg::print_map(server.kvmap.as_ref().unwrap_or(&KvMap::new()))
        })?;
    }
    outcome
}

/// Clone server, model six: the Clone server as a Binary Star pair (zguide's
/// clonesrv6.py).
#[derive(Parser)]
struct Args {
    /// Run as the primary (tcp://*:5556, state on tcp://*:5003)
    #[arg(short, long, conflicts_with = "backup")]
    primary: bool,
    /// Run as the backup (tcp://*:5566, state on tcp://*:5004)
    #[arg(short, long)]
    backup: bool,
    /// Our snapshot port; updates published on PORT+1, collected on PORT+2 [default: 5556 (-p), 5566 (-b)]
    #[arg(long)]
    port: Option<u16>,
    /// The peer's snapshot port [default: 5566 (-p), 5556 (-b)]
    #[arg(long)]
    peer: Option<u16>,
    /// Where our Binary Star state is published [default: tcp://*:5003 (-p), tcp://*:5004 (-b)]
    #[arg(long, value_name = "ENDPOINT")]
    state_pub: Option<String>,
    /// The peer's Binary Star state [default: tcp://localhost:5004 (-p), tcp://localhost:5003 (-b)]
    #[arg(long, value_name = "ENDPOINT")]
    state_sub: Option<String>,
    /// On exit (Ctrl-C), print the map: `map: KEY=VALUE` lines, then `map: N keys`
    #[arg(long)]
    print_map: bool,
}

fn main() -> ExitCode {
    pyport::main(run)
}
