//! `syncpub.py`, the zguide's synchronized publisher (chapter 2, "Node
//! Coordination"): a PUB socket bound to `tcp://*:5561` (send high-water
//! mark 1,100,000) and a REP socket bound to `tcp://*:5562`. It waits for
//! ten subscribers' sync requests, printing `+1 subscriber (n/10)` for each,
//! then broadcasts a million `Rhubarb` updates and `END`. Its other half is
//! `syncsub.py` (or this crate's `syncsub`).
//!
//! The port: the blocking "wait for N sync requests" loop becomes a REP
//! connection that counts requests in the reactor's state; the broadcast
//! goes out in chunks of 10,000 messages per reactor pass, so the reactor
//! stays responsive. As in the original, nothing is dropped, and the
//! publisher lingers until every update has left.
//!
//! ```sh
//! cargo run --release --example syncpub
//! for i in $(seq 10); do cargo run --release --example syncsub & done
//! ```
//!
//! Prints `+1 subscriber (n/10)` per subscriber. Flags (defaults are the
//! original's): `--subscribers N` (10), `--updates N` (1000000),
//! `--pub-endpoint` (`tcp://*:5561`), `--sync-endpoint` (`tcp://*:5562`).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::ZmqRepConnection;
use tx0mq::connections::{zmq, Error, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqOptions};
use tx0mq::{Ctx, Reactor};

mod pyport;

/// Updates sent per reactor pass.
const CHUNK: u64 = 10_000;

/// Sends `left` more updates, a chunk per reactor pass, then `END`, then stops.
fn broadcast(cx: &mut Ctx<'_, u32>, publisher: ZmqConnection<u32>, left: u64) -> Result<(), Error> {
    let now = left.min(CHUNK);
    for _ in 0..now {
        publisher.send("Rhubarb")?;
    }
    if left > now {
        cx.reactor.call_later(Duration::ZERO, move |cx| {
            broadcast(cx, publisher, left - now)
        });
    } else {
        publisher.send("END")?;
        cx.reactor.stop()?;
    }
    Ok(())
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    // The state: how many subscribers have synchronised.
    let reactor = Reactor::with_state(0u32)?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // Socket to talk to clients: a high SNDHWM, so we don't drop messages for
    // slow subscribers, and no time limit on delivering them at exit.
    let options = ZmqOptions::new().sndhwm(1_100_000).linger_forever();
    let publisher = ZmqConnection::with_options(
        &factory,
        zmq::PUB,
        ZmqEndpoint::bind(&args.pub_endpoint),
        &options,
    )?;

    // Socket to receive signals
    let syncservice = ZmqRepConnection::new(&factory, ZmqEndpoint::bind(&args.sync_endpoint))?;
    let expected = args.subscribers;
    let updates = args.updates;
    if expected == 0 {
        let publisher = publisher.clone();
        reactor.call_when_running(move |cx| broadcast(cx, publisher, updates));
    }
    syncservice.got_message(move |cx, message_id, _request| {
        // send synchronization reply
        cx.conn.reply(&message_id, "")?;
        *cx.state += 1;
        println!("+1 subscriber ({}/{expected})", cx.state);
        if *cx.state == expected {
            // Now broadcast exactly 1M updates followed by END
            let publisher = publisher.clone();
            cx.reactor
                .call_later(Duration::ZERO, move |cx| broadcast(cx, publisher, updates));
        }
        Ok::<(), Error>(())
    });

    reactor.run()?;
    Ok(())
}

/// Synchronized publisher: waits for its subscribers, then broadcasts
/// (zguide's syncpub.py).
#[derive(Parser)]
struct Args {
    /// Subscribers to wait for
    #[arg(long, value_name = "N", default_value_t = 10)]
    subscribers: u32,
    /// Updates to broadcast
    #[arg(long, value_name = "N", default_value_t = 1_000_000)]
    updates: u64,
    /// Endpoint of the PUB socket
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:5561")]
    pub_endpoint: String,
    /// Endpoint of the REP socket subscribers synchronize on
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:5562")]
    sync_endpoint: String,
}

fn main() -> ExitCode {
    pyport::main(run)
}
