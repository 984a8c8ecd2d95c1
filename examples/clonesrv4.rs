//! `clonesrv4.py`, the zguide's Clone server, model four (chapter 5,
//! "Working with Subtrees"): model three (`clonesrv3`) with subtrees. A
//! client's snapshot request names a subtree as a third frame
//! (`ICANHAZ?`, `/client/`); the server sends only the entries whose keys
//! start with it, and `KTHXBAI` carries the subtree as its body. Clients
//! subscribe to their subtree on the update stream themselves. It prints
//! `I: publishing update     N` for each update and `Sending state
//! shapshot=N` for each snapshot (the original's spelling). Its client is
//! `clonecli4`.
//!
//! The port: as `clonesrv3`, three connections whose callbacks share the
//! server's state; the snapshot ROUTER has no send high-water mark, so a
//! map of any size reaches the client whole. A request that is not
//! `ICANHAZ?` and a subtree is reported (`E: bad request from ...`) and
//! ignored, where the original stops; a malformed update is reported and
//! dropped.
//!
//! ```sh
//! cargo run --example clonesrv4 &
//! cargo run --example clonecli4 &
//! cargo run --example clonecli4
//! ```
//!
//! On Ctrl-C prints ` Interrupted` and `N messages handled`, as the
//! original does. Beyond it: `--until N` stops once update N is published
//! (printing `N messages handled` alone), and either way the last line is
//! `I: map holds K keys, digest HEX` (the whole map, every subtree; see
//! `examples/kvsimple/mod.rs`). Flags: `--snapshot`, `--publisher`,
//! `--collector` (the three endpoints, all bound), `--until N`.

use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{
    bytes_repr, zmq, Error, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqOptions,
};
use tx0mq::Reactor;

mod kvsimple;
mod pyport;

use kvsimple::{KvMap, KvMsg};

/// The server's state: the last sequence number given and the map.
struct Server {
    sequence: i32,
    map: KvMap,
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::with_state(Server {
        sequence: 0,
        map: KvMap::new(),
    })?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let snapshot = ZmqConnection::with_options(
        &factory,
        zmq::ROUTER,
        ZmqEndpoint::bind(&args.snapshot),
        &ZmqOptions::new().sndhwm(0),
    )?;
    let publisher = ZmqConnection::new(&factory, zmq::PUB, ZmqEndpoint::bind(&args.publisher))?;
    let collector = ZmqConnection::new(&factory, zmq::PULL, ZmqEndpoint::bind(&args.collector))?;

    // Apply state update sent from client
    let until = args.until;
    collector.message_received(move |cx, message| {
        let mut update = match KvMsg::parse(&message) {
            Ok(update) => update,
            Err(why) => {
                println!("E: bad update from a client ({why}), dropped");
                return Ok(());
            }
        };
        let server = &mut *cx.state;
        server.sequence = server.sequence.wrapping_add(1);
        update.sequence = server.sequence;
        update.send(&publisher)?;
        update.store(&mut server.map);
        println!("I: publishing update {:5}", server.sequence);
        if until.is_some_and(|until| i64::from(server.sequence) >= until) {
            cx.reactor.stop()?;
        }
        Ok::<(), Error>(())
    });

    // Execute state snapshot request
    snapshot.message_received(move |cx, message| {
        let [identity, request, subtree] = &message[..] else {
            println!("E: bad request ({} frames), ignored", message.len());
            return Ok(());
        };
        if &request[..] != b"ICANHAZ?" {
            println!(
                "E: bad request from {}: {}, ignored",
                bytes_repr(identity),
                bytes_repr(request)
            );
            return Ok(());
        }
        // Send state snapshot to client: each entry, then the END message
        // with the sequence number
        for (key, update) in &cx.state.map {
            if key.starts_with(subtree) {
                update.send_to(cx.conn, identity)?;
            }
        }
        println!("Sending state shapshot={}", cx.state.sequence);
        KvMsg::with(cx.state.sequence, "KTHXBAI", subtree.to_vec()).send_to(cx.conn, identity)?;
        Ok::<(), Error>(())
    });

    reactor.run()?;
    if reactor.exit_signal().is_some() {
        println!(" Interrupted");
    }
    reactor.access_state(|server| {
        println!("{} messages handled", server.sequence);
        kvsimple::print_digest(&server.map);
    })?;
    Ok(())
}

/// Clone server, model four: sequences and republishes its clients'
/// updates, and hands out snapshots of subtrees (zguide's clonesrv4.py).
#[derive(Parser)]
struct Args {
    /// Where clients ask for a snapshot (bind)
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:5556")]
    snapshot: String,
    /// Where the updates are republished (bind)
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:5557")]
    publisher: String,
    /// Where clients send their updates (bind)
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:5558")]
    collector: String,
    /// Stop once update N is published [default: never]
    #[arg(long, value_name = "N")]
    until: Option<i64>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
