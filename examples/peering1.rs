//! `peering1.py`, the zguide's broker state flow prototype (chapter 3,
//! "Inter-Broker Routing", "Prototyping the State Flow"): run as `peering1.py
//! <myself> <peer_1> ... <peer_N>` (without arguments it prints that usage
//! line and exits 1), each broker binds a PUB socket on
//! `ipc://<myself>-state.ipc`, connects a SUB socket to each peer's, and
//! polls it with a one-second timeout: it prints each state message it
//! receives, and after a second of silence publishes its own state (its
//! address and a random number of free workers).
//!
//! The port: the SUB connection prints what arrives and resets a one-second
//! `DelayedCall`, kept in the reactor's state; when the timer fires it
//! publishes and starts the next second. The original's one-second sleep
//! after connecting each peer delays the start of that loop.
//!
//! ```sh
//! cargo run --example peering1 -- DC1 DC2 DC3 &
//! cargo run --example peering1 -- DC2 DC1 DC3 &
//! cargo run --example peering1 -- DC3 DC1 DC2
//! ```
//!
//! Prints `Hello, I am DC1`, then lines like `DC1 Received:
//! [b'ipc://DC2-state.ipc', b'7']`. Binds `ipc://<myself>-state.ipc` in the
//! current directory, as the original does.

use std::hash::BuildHasher;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::ZmqSubConnection;
use tx0mq::connections::{bytes_repr, zmq, Error, ZmqConnection, ZmqEndpoint, ZmqFactory};
use tx0mq::{Ctx, DelayedCall, Reactor};

mod pyport;

/// How long the original's poll waits for a state message.
const POLL_TIMEOUT: Duration = Duration::from_secs(1);

/// The reactor's state: the timer that fires after a second of silence.
#[derive(Default)]
struct Peer {
    quiet: Option<DelayedCall>,
}

/// A random number below `n` (std has no generator; each `RandomState` is keyed anew).
fn random_below(n: u64) -> u64 {
    std::collections::hash_map::RandomState::new().hash_one(()) % n.max(1)
}

/// Waits a second; if nothing arrives meanwhile, publishes our state and waits again.
fn wait_quietly(cx: &mut Ctx<'_, Peer>, statebe: ZmqConnection<Peer>, bind_address: String) {
    let timer = cx.reactor.call_later(POLL_TIMEOUT, move |cx| {
        // Send our address and a random value for worker availability
        let available = (1 + random_below(9)).to_string();
        let sent = statebe.send([bind_address.as_str(), available.as_str()]);
        wait_quietly(cx, statebe, bind_address);
        sent
    });
    cx.state.quiet = Some(timer);
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let Some(myself) = args.myself else {
        println!("Usage: peering1 <myself> <peer_1> ... <peer_N>");
        return Err("no name given for this broker".into());
    };
    let others = args.peers;
    println!("Hello, I am {myself}");

    let reactor = Reactor::with_state(Peer::default())?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // State back-end
    let bind_address = format!("ipc://{myself}-state.ipc");
    let statebe = ZmqConnection::new(&factory, zmq::PUB, ZmqEndpoint::bind(&bind_address))?;

    // State front-end
    let endpoints: Vec<ZmqEndpoint> = others
        .iter()
        .map(|other| ZmqEndpoint::connect(format!("ipc://{other}-state.ipc")))
        .collect();
    let statefe = ZmqSubConnection::new(&factory, endpoints)?;
    statefe.subscribe(b"")?;
    statefe.pause_reading(); // until the loop starts
                             // Handle incoming status message (raw frames, not txZMQ's tag framing)
    statefe.message_received(move |cx, msg| {
        let parts: Vec<String> = msg.iter().map(|part| bytes_repr(part)).collect();
        println!("{myself} Received: [{}]", parts.join(", "));
        // The poll returned: the next one waits a full second again
        if let Some(quiet) = &cx.state.quiet {
            quiet.reset(POLL_TIMEOUT)?;
        }
        Ok::<(), Error>(())
    });

    // The original sleeps a second after connecting each peer, then polls.
    let startup = POLL_TIMEOUT * u32::try_from(others.len()).unwrap_or(u32::MAX);
    reactor.call_later(startup, move |cx| {
        statefe.resume_reading();
        wait_quietly(cx, statebe, bind_address);
    });

    reactor.run()?;
    Ok(())
}

/// Broker peering: publishes this broker's state, prints its peers'
/// (zguide's peering1.py).
#[derive(Parser)]
struct Args {
    /// This broker's name
    myself: Option<String>,
    /// Its peers' names
    peers: Vec<String>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
