//! `clonesrv5.py`, the zguide's Clone server, model five (chapter 5,
//! "Ephemeral Values"): a shared key-value map. Clients ask for a snapshot
//! on a ROUTER (`tcp://*:5556`: `["ICANHAZ?", subtree]`, answered with every
//! key under the subtree as a key-value message, then `KTHXBAI` carrying the
//! map's sequence number and the subtree), send their updates to a PULL
//! (`tcp://*:5558`), and hear every update, numbered in order, on a PUB
//! (`tcp://*:5557`). An update with a `ttl` property (seconds) is ephemeral:
//! once a second the server deletes the keys whose time has passed and
//! publishes each delete (an update without a body) under a new number.
//! Its client is `clonecli5`.
//!
//! The original already runs on pyzmq's IOLoop; the port maps it
//! one-to-one onto the reactor: the snapshot ROUTER and the collector PULL
//! are connections whose callbacks answer and apply, the TTL flush is a
//! `LoopingCall` of one second. The messages are `examples/kvmsg/mod.rs`
//! (`kvmsg.py`).
//!
//! ```sh
//! cargo run --example clonesrv5 &
//! cargo run --example clonecli5
//! ```
//!
//! Prints, as the original logs them (`%(asctime)s %(message)s`):
//! `2026-01-31 12:00:00 I: publishing update=1` for each update,
//! `... I: publishing delete=2` for each expired key, and `... I: Sending
//! state shapshot=2` (sic) for each snapshot. A malformed message is
//! reported (`E: bad request, ignored: [...]` on the ROUTER, `E: bad update,
//! ignored: ...` on the PULL) and the server goes on. It runs until
//! interrupted (Ctrl-C); `--print-map` then prints the map (`map:
//! KEY=VALUE`, one line a key, then `map: N keys`). `--port` moves the three
//! ports (PORT, PORT+1, PORT+2).
//!
//! Where it differs: the snapshot ROUTER has no send high-water mark (at
//! the default 1000 a ROUTER drops the rest of a snapshot of more keys), an
//! empty subtree gets a snapshot of every key (the
//! original answers nothing, leaving such a client waiting), and a bad
//! request is ignored rather than stopping the server.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{zmq, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqOptions};
use tx0mq::{LoopingCall, Reactor};

mod kvmsg;
mod pyport;

use kvmsg::{log, KvMap, KvMsg};

/// The server's state, as the original's `CloneServer` holds it.
struct CloneServer {
    /// The key-value store.
    kvmap: KvMap,
    /// How many updates we are at.
    sequence: i64,
}

/// The PUB connection updates are published on.
type Publisher = ZmqConnection<CloneServer>;

impl CloneServer {
    /// Numbers `kvmsg`, publishes it and applies it (stamping its `ttl`).
    fn publish(
        &mut self,
        publisher: &Publisher,
        mut kvmsg: KvMsg,
    ) -> tx0mq::connections::Result<()> {
        self.sequence += 1;
        kvmsg.sequence = self.sequence;
        kvmsg.send(publisher)?;
        kvmsg.stamp_ttl(pyport::time_time());
        kvmsg.store(&mut self.kvmap);
        log(format_args!("I: publishing update={}", self.sequence));
        Ok(())
    }

    /// Deletes the keys whose time has passed, publishing each delete.
    fn flush_ttl(&mut self, publisher: &Publisher) -> tx0mq::connections::Result<()> {
        let now = pyport::time_time();
        let expired: Vec<Vec<u8>> = self
            .kvmap
            .iter()
            .filter(|(_, kvmsg)| kvmsg.expired(now))
            .map(|(key, _)| key.clone())
            .collect();
        for key in expired {
            let Some(mut kvmsg) = self.kvmap.remove(&key) else {
                continue;
            };
            kvmsg.body.clear();
            self.sequence += 1;
            kvmsg.sequence = self.sequence;
            kvmsg.send(publisher)?;
            log(format_args!("I: publishing delete={}", self.sequence));
        }
        Ok(())
    }
}

/// Answers a snapshot request `[identity, "ICANHAZ?", subtree]` on the
/// ROUTER `snapshot`: each key under the subtree, then `KTHXBAI`.
fn send_snapshot(
    server: &CloneServer,
    snapshot: &ZmqConnection<CloneServer>,
    request: &[tx0mq::connections::Frame],
) -> tx0mq::connections::Result<()> {
    let [identity, command, subtree] = request else {
        println!(
            "E: bad request, ignored: {}",
            pyport::bytes_list_repr(request)
        );
        return Ok(());
    };
    if &command[..] != b"ICANHAZ?" {
        println!(
            "E: bad request, ignored: {}",
            pyport::bytes_list_repr(request)
        );
        return Ok(());
    }
    for (key, kvmsg) in &server.kvmap {
        if key.starts_with(subtree) {
            kvmsg.send_to(snapshot, identity)?;
        }
    }
    log(format_args!(
        "I: Sending state shapshot={}",
        server.sequence
    ));
    let end = KvMsg::with(server.sequence, "KTHXBAI", subtree.to_vec());
    end.send_to(snapshot, identity)
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::with_state(CloneServer {
        kvmap: KvMap::new(),
        sequence: 0,
    })?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let bind = |port: u32| ZmqEndpoint::bind(format!("tcp://*:{port}"));
    let port = u32::from(args.port);
    let publisher = ZmqConnection::new(&factory, zmq::PUB, bind(port + 1))?;
    // No send high-water mark: a ROUTER drops what it cannot queue, and a
    // snapshot is one message per key.
    let unbounded = ZmqOptions::new().sndhwm(0);
    let snapshot = ZmqConnection::with_options(&factory, zmq::ROUTER, bind(port), &unbounded)?;
    let collector = ZmqConnection::new(&factory, zmq::PULL, bind(port + 2))?;

    snapshot.message_received(|cx, request| send_snapshot(cx.state, cx.conn, &request));
    let publishing = publisher.clone();
    collector.message_received(move |cx, message| match KvMsg::from_frames(&message) {
        Ok(kvmsg) => cx.state.publish(&publishing, kvmsg),
        Err(e) => {
            println!("E: bad update, ignored: {e}");
            Ok(())
        }
    });
    let flush = LoopingCall::new(&reactor, move |cx| cx.state.flush_ttl(&publisher));
    flush.start(Duration::from_secs(1), false)?;

    reactor.run()?;
    if args.print_map {
        reactor.access_state(|server| kvmsg::print_map(&server.kvmap))?;
    }
    Ok(())
}

/// Clone server, model five: a key-value map shared by snapshot, updates
/// and ephemeral values (zguide's clonesrv5.py).
#[derive(Parser)]
struct Args {
    /// Snapshots on tcp://*:PORT, updates published on PORT+1, collected on PORT+2
    #[arg(long, default_value_t = 5556)]
    port: u16,
    /// On exit (Ctrl-C), print the map: `map: KEY=VALUE` lines, then `map: N keys`
    #[arg(long)]
    print_map: bool,
}

fn main() -> ExitCode {
    pyport::main(run)
}
