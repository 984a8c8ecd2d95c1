//! `tripping.py`, the zguide's round-trip demonstrator (chapter 4,
//! "Asynchronous Majordomo Pattern"): in one process, a broker thread with
//! two ROUTERs (`tcp://*:5555` for the client, `tcp://*:5556` for the
//! worker) that rewrites the routing id (`C` ↔ `W`), an echoing DEALER
//! worker `W`, and a DEALER client `C`, which, after 100 ms to let the
//! connections settle, sends 10000 `hello` one at a time (each after the
//! previous reply), then 10000 all at once before reading the replies, and
//! prints the calls per second of each.
//!
//! The port: the three threads become three parts of one reactor. The
//! client's loops are its reply callback: in the synchronous test each
//! reply sends the next request; in the asynchronous one a pull producer
//! sends the requests as fast as the socket takes them while the callback
//! counts replies. The broker's ROUTERs have no high-water mark, so the
//! burst is never dropped (libzmq's default is 1000 a peer).
//!
//! ```sh
//! cargo run --example tripping
//! ```
//!
//! Prints `Setting up test...`, `Synchronous round-trip test...`,
//! ` 4162 calls/second`, `Asynchronous round-trip test...`,
//! ` 39871 calls/second`, then exits. Flags: `--requests N` (10000),
//! `--frontend ENDPOINT` (`tcp://*:5555`), `--backend ENDPOINT`
//! (`tcp://*:5556`); the client and the worker connect to them
//! (`tcp://localhost:PORT` for `tcp://*:PORT`).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use tx0mq::connections::{
    ZmqDealerConnection, ZmqEndpoint, ZmqFactory, ZmqOptions, ZmqRouterConnection,
};
use tx0mq::Reactor;

mod mdp;
mod pyport;

/// Where the client is.
enum Phase {
    Setup,
    Synchronous,
    Asynchronous,
}

/// The client's state: the reactor's.
struct Trip {
    phase: Phase,
    requests: u64,
    replies: u64,
    start: Instant,
}

/// ` N calls/second` for the test that started at `start`.
fn report(requests: u64, start: Instant) {
    let secs = start.elapsed().as_secs_f64().max(1e-9);
    println!(" {} calls/second", (requests as f64 / secs) as u64);
}

/// Starts the asynchronous test: every request at once, replies later.
fn start_asynchronous(
    client: &ZmqDealerConnection<Trip>,
    trip: &mut Trip,
) -> Result<(), tx0mq::connections::Error> {
    println!("Asynchronous round-trip test...");
    trip.phase = Phase::Asynchronous;
    trip.replies = 0;
    trip.start = Instant::now();
    let mut left = trip.requests;
    client.produce_with(move |cx| {
        for _ in 0..100 {
            if left == 0 {
                break;
            }
            if let Err(e) = cx.conn.send_msg(b"hello") {
                log::error!("cannot send: {e}");
                break;
            }
            left -= 1;
        }
        if left == 0 {
            cx.conn.unregister_producer();
        }
    })
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::with_state(Trip {
        phase: Phase::Setup,
        requests: args.requests,
        replies: 0,
        start: Instant::now(),
    })?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // The broker
    let unlimited = ZmqOptions::new().high_water_mark(0);
    let frontend =
        ZmqRouterConnection::with_options(&factory, ZmqEndpoint::bind(&args.frontend), &unlimited)?;
    let backend =
        ZmqRouterConnection::with_options(&factory, ZmqEndpoint::bind(&args.backend), &unlimited)?;
    let to_worker = backend.clone();
    frontend.got_message(move |_, _client, msg| to_worker.send_msg(b"W", msg));
    let to_client = frontend.clone();
    backend.got_message(move |_, _worker, msg| to_client.send_msg(b"C", msg));

    // The worker
    let worker = ZmqDealerConnection::with_options(
        &factory,
        ZmqEndpoint::connect(mdp::connect_address(&args.backend)),
        &ZmqOptions::new().identity(b"W"),
    )?;
    worker.got_message(|cx, msg| cx.conn.send_msg(msg));

    // The client
    let client = ZmqDealerConnection::with_options(
        &factory,
        ZmqEndpoint::connect(mdp::connect_address(&args.frontend)),
        &ZmqOptions::new().identity(b"C"),
    )?;
    client.got_message(|cx, _reply| {
        let trip = &mut *cx.state;
        trip.replies += 1;
        match trip.phase {
            Phase::Synchronous if trip.replies < trip.requests => cx.conn.send_msg(b"hello")?,
            Phase::Synchronous => {
                report(trip.requests, trip.start);
                start_asynchronous(cx.conn, trip)?;
            }
            Phase::Asynchronous if trip.replies >= trip.requests => {
                report(trip.requests, trip.start);
                cx.reactor.stop()?;
            }
            _ => {}
        }
        Ok::<(), Box<dyn std::error::Error>>(())
    });

    println!("Setting up test...");
    let starter = client.clone();
    reactor.call_later(Duration::from_millis(100), move |cx| {
        let trip = &mut *cx.state;
        if trip.requests == 0 {
            return cx.reactor.stop().map_err(Into::into);
        }
        println!("Synchronous round-trip test...");
        trip.phase = Phase::Synchronous;
        trip.replies = 0;
        trip.start = Instant::now();
        starter
            .send_msg(b"hello")
            .map_err(Into::<Box<dyn std::error::Error>>::into)
    });
    reactor.run()?;
    Ok(())
}

/// Round-trip timing through a broker (zguide's tripping.py).
#[derive(Parser)]
struct Args {
    /// Requests in each test
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    requests: u64,
    /// The broker's endpoint for the client
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:5555")]
    frontend: String,
    /// The broker's endpoint for the worker
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:5556")]
    backend: String,
}

fn main() -> ExitCode {
    pyport::main(run)
}
