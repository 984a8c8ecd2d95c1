//! `clonesrv3.py`, the zguide's Clone server, model three (chapter 5,
//! "Republishing Updates from Clients"): the clients make the updates. A
//! PULL socket on `tcp://*:5558` collects them; the server gives each the
//! next sequence number, stores it in its map and republishes it on its PUB
//! socket, `tcp://*:5557` (printing `I: publishing update     N`). A ROUTER
//! on `tcp://*:5556` answers a client's `ICANHAZ?` with the whole map, one
//! [`kvsimple`] message per key, then `KTHXBAI` carrying the map's
//! sequence number (printing `Sending state shapshot=N`, the original's
//! spelling). Its client is `clonecli3`.
//!
//! The port: the poll loop is three connections whose callbacks share the
//! server's state (the reactor's). The snapshot ROUTER has no send
//! high-water mark, so a map of any size reaches the client whole (a ROUTER
//! drops what is over the mark). A request that is not `ICANHAZ?` is
//! reported (`E: bad request from ...`) and ignored, where the original
//! stops; a malformed update is reported and dropped.
//!
//! ```sh
//! cargo run --example clonesrv3 &
//! cargo run --example clonecli3 &
//! cargo run --example clonecli3
//! ```
//!
//! On Ctrl-C prints ` Interrupted` and `N messages handled`, as the
//! original does. Beyond it: `--until N` stops once update N is published
//! (printing `N messages handled` alone), and either way the last line is
//! `I: map holds K keys, digest HEX` (see `examples/kvsimple/mod.rs`), for a
//! test to compare with a client's. Flags: `--snapshot`, `--publisher`,
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
        let [identity, request] = &message[..] else {
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
        for update in cx.state.map.values() {
            update.send_to(cx.conn, identity)?;
        }
        println!("Sending state shapshot={}", cx.state.sequence);
        KvMsg::with(cx.state.sequence, "KTHXBAI", "").send_to(cx.conn, identity)?;
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

/// Clone server, model three: sequences and republishes its clients'
/// updates, and hands out snapshots (zguide's clonesrv3.py).
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
