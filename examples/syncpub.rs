//! Synchronized publisher: waits until its subscribers have all checked in
//! over REQ/REP, then broadcasts a million updates and `END`.
//!
//! Port of the zguide's `syncpub.py` (chapter 2, "Node Coordination"). Its
//! other half is `syncsub` (this crate's or the Python one). The blocking
//! "wait for N sync requests" loop becomes a REP connection that counts
//! requests in the reactor's state; the broadcast goes out in chunks of
//! 10,000 messages per reactor pass, so the reactor stays responsive. As in
//! the original, the publisher's send high-water mark is 1,100,000 so nothing
//! is dropped, and it lingers until every update has left.
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

use tx0mq::connections::ZmqRepConnection;
use tx0mq::connections::{zmq, Error, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqOptions};
use tx0mq::{Ctx, Reactor};

const USAGE: &str = "usage: syncpub [--subscribers N] [--updates N] \
                     [--pub-endpoint ENDPOINT] [--sync-endpoint ENDPOINT]";

/// Updates sent per reactor pass.
const CHUNK: u64 = 10_000;

struct Args {
    subscribers: u32,
    updates: u64,
    pub_endpoint: String,
    sync_endpoint: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        subscribers: 10,
        updates: 1_000_000,
        pub_endpoint: "tcp://*:5561".to_string(),
        sync_endpoint: "tcp://*:5562".to_string(),
    };
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        let mut value = || argv.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--subscribers" => {
                args.subscribers = value()?.parse().map_err(|e| format!("{flag}: {e}"))?
            }
            "--updates" => args.updates = value()?.parse().map_err(|e| format!("{flag}: {e}"))?,
            "--pub-endpoint" => args.pub_endpoint = value()?,
            "--sync-endpoint" => args.sync_endpoint = value()?,
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    Ok(args)
}

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
    let options = ZmqOptions::new().sndhwm(1_100_000).linger(Duration::MAX);
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

fn main() -> ExitCode {
    env_logger::init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("syncpub: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("syncpub: {e}");
            ExitCode::FAILURE
        }
    }
}
