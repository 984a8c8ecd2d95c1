//! `clonesrv2.py`, the zguide's Clone server, model two (chapter 5,
//! "Getting an Out-of-Band Snapshot"): the main task publishes random
//! key-value updates on `tcp://*:5557` as fast as it can (as model one,
//! `clonesrv1`) and passes each to a state manager thread through a pipe (a
//! PAIR socket pair over `inproc`). The state manager keeps the map and
//! answers a client's `ICANHAZ?` on its ROUTER, `tcp://*:5556`, with the
//! whole map, one [`kvsimple`] message per key, then `KTHXBAI` carrying the
//! sequence number of the last update it applied (printing `Sending state
//! shapshot=N`, the original's spelling). Its client is `clonecli2`.
//!
//! The port: the publishing loop is a `LoopingCall` on the reactor, and the
//! pipe's end is a PAIR connection in the reactor. The state manager stays
//! a thread, as in the original's design, with its own blocking sockets
//! from the factory's context and its own poll loop; it says `READY` on
//! the pipe when it is, and the updates start then (the original starts
//! them at once). Its ROUTER has no send high-water mark, so a map of any
//! size reaches the client whole. A request that is not `ICANHAZ?` is
//! reported (`E: bad request from ...`) and ignored, where the original
//! stops the state manager.
//!
//! ```sh
//! cargo run --example clonesrv2 &
//! cargo run --example clonecli2
//! ```
//!
//! On Ctrl-C prints ` Interrupted` and `N messages out`, as the original
//! does. Beyond it: `--updates N` stops publishing after N updates and the
//! state manager, once it has applied update N, prints `I: map holds K
//! keys, digest HEX` (see `examples/kvsimple/mod.rs`), for a test to
//! compare with a client's; snapshots are still served until Ctrl-C.
//! Flags: `--snapshot`, `--publisher` (bound), `--interval-ms` (between
//! updates, 0: one on every pass of the reactor), `--updates N`, `--seed N`.

use std::cell::RefCell;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{
    bytes_repr, zmq, Error, Frame, ZmqConnection, ZmqContext, ZmqEndpoint, ZmqFactory, ZmqOptions,
};
use tx0mq::{LoopingCall, Reactor};

mod kvsimple;
mod pyport;

use kvsimple::{KvMap, KvMsg};

/// The main task's state: the last sequence number published.
struct Server {
    sequence: i32,
    random: pyport::Random,
}

/// The state manager thread: applies the updates from `pipe` to its map
/// and answers snapshot requests on its ROUTER, until the pipe closes or a
/// socket fails. `updates` is the main task's `--updates`.
fn state_manager(
    context: &ZmqContext,
    pipe: &str,
    endpoint: &str,
    updates: Option<u64>,
) -> Result<(), Box<dyn std::error::Error>> {
    let pipe = {
        let socket = context.socket(zmq::PAIR)?;
        socket.set_rcvhwm(0)?;
        socket.connect(pipe)?;
        socket
    };
    let snapshot = context.socket(zmq::ROUTER)?;
    snapshot.set_sndhwm(0)?;
    snapshot.bind(endpoint)?;
    pipe.send("READY", 0)?;

    let mut map = KvMap::new();
    let mut sequence = 0; // Current snapshot version number
    loop {
        let mut items = [
            pipe.as_poll_item(zmq::POLLIN),
            snapshot.as_poll_item(zmq::POLLIN),
        ];
        zmq::poll(&mut items, -1)?;
        // Apply state update from main thread
        if items[0].is_readable() {
            let frames: Vec<Frame> = pipe
                .recv_multipart(0)?
                .into_iter()
                .map(Frame::from)
                .collect();
            match KvMsg::parse(&frames) {
                Ok(update) => {
                    sequence = update.sequence;
                    update.store(&mut map);
                    if updates
                        .is_some_and(|n| i64::from(sequence) == i64::try_from(n).unwrap_or(-1))
                    {
                        kvsimple::print_digest(&map);
                    }
                }
                Err(why) => println!("E: bad update on the pipe ({why}), ignored"),
            }
        }
        // Execute state snapshot request
        if items[1].is_readable() {
            let message = snapshot.recv_multipart(0)?;
            let [identity, request] = &message[..] else {
                println!("E: bad request ({} frames), ignored", message.len());
                continue;
            };
            if &request[..] != b"ICANHAZ?" {
                println!(
                    "E: bad request from {}: {}, ignored",
                    bytes_repr(identity),
                    bytes_repr(request)
                );
                continue;
            }
            // Send state snapshot to client: each entry, then the END
            // message with the sequence number
            for update in map.values() {
                send_single(&snapshot, identity, update)?;
            }
            println!("Sending state shapshot={sequence}");
            send_single(&snapshot, identity, &KvMsg::with(sequence, "KTHXBAI", ""))?;
        }
    }
}

/// Sends one message of a snapshot to the client `identity`.
fn send_single(socket: &zmq::Socket, identity: &[u8], update: &KvMsg) -> zmq::Result<()> {
    let mut frames = vec![identity.to_vec()];
    frames.extend(update.frames());
    socket.send_multipart(frames, 0)
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::with_state(Server {
        sequence: 0,
        random: pyport::Random::from_seed(args.seed),
    })?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let publisher = ZmqConnection::new(&factory, zmq::PUB, ZmqEndpoint::bind(&args.publisher))?;
    // The pipe to the state manager: an inproc name of this process's own.
    static PIPES: AtomicUsize = AtomicUsize::new(0);
    let pipe_name = format!(
        "inproc://clonesrv2-pipe-{}",
        PIPES.fetch_add(1, Ordering::Relaxed)
    );
    // No high-water mark on the pipe: every update reaches the state manager.
    let updates = ZmqConnection::with_options(
        &factory,
        zmq::PAIR,
        ZmqEndpoint::bind(&pipe_name),
        &ZmqOptions::new().high_water_mark(0),
    )?;

    let context = factory.context()?;
    let (endpoint, limit) = (args.snapshot.clone(), args.updates);
    std::thread::spawn(move || {
        if let Err(e) = state_manager(&context, &pipe_name, &endpoint, limit) {
            eprintln!("clonesrv2: the state manager stopped: {e}");
        }
    });

    // Distribute as key-value message, to the subscribers and the state
    // manager
    let pipe = updates.clone();
    // It stops itself after --updates (through `me`, filled in below).
    let me = Rc::new(RefCell::new(None::<LoopingCall<Server>>));
    let this = me.clone();
    let ticker = LoopingCall::new(&reactor, move |cx| {
        let server = &mut *cx.state;
        if limit.is_some_and(|limit| u64::try_from(server.sequence).unwrap_or(0) >= limit) {
            if let Some(ticker) = this.borrow().as_ref() {
                ticker.stop()?;
            }
            return Ok(());
        }
        server.sequence = server.sequence.wrapping_add(1);
        let key = server.random.randint(1, 10_000).to_string();
        let body = server.random.randint(1, 1_000_000).to_string();
        let update = KvMsg::with(server.sequence, key, body);
        update.send(&publisher)?;
        update.send(&pipe)?;
        Ok::<(), Error>(())
    });
    *me.borrow_mut() = Some(ticker.clone());
    // The state manager is ready: start publishing.
    let interval = args.interval;
    updates.message_received(move |_, message| {
        if pyport::first(&message) == b"READY" && !ticker.running() {
            ticker.start(interval, true)?;
        }
        Ok::<(), Error>(())
    });

    reactor.run()?;
    if reactor.exit_signal().is_some() {
        println!(" Interrupted");
    }
    reactor.access_state(|server| println!("{} messages out", server.sequence))?;
    Ok(())
}

/// Clone server, model two: publishes random updates, and a state manager
/// thread hands out snapshots (zguide's clonesrv2.py).
#[derive(Parser)]
struct Args {
    /// Where clients ask for a snapshot (bind)
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:5556")]
    snapshot: String,
    /// Where the updates are published (bind)
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:5557")]
    publisher: String,
    /// The pause between updates (0: one on every pass of the reactor)
    #[arg(long = "interval-ms", value_name = "MS", value_parser = pyport::millis, default_value = "0")]
    interval: Duration,
    /// Stop publishing after this many updates [default: never]
    #[arg(long, value_name = "N")]
    updates: Option<u64>,
    /// Seed the keys and bodies, for a repeatable run
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
