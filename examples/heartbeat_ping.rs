//! `heartbeat/ping.py`, pyzmq's pinger for `pong.py`: a REQ socket
//! connected to `tcp://127.0.0.1:10111` waits a random fraction of a second,
//! then sends four pings in a row (`ping 1` ... `ping 4`), each after the
//! previous one's reply, prints each round trip's time and checks the
//! reply is the ping; and again, forever. It shows that `pong.py` answers
//! quickly while its main thread is blocked.
//!
//! The port: the original's sleeps are `call_later`s, its blocking
//! `recv_string` is the REQ connection's `message_received`, which sends
//! the next ping; the counters live in the reactor's state.
//!
//! ```sh
//! cargo run --release --example heartbeat_pong &
//! cargo run --example heartbeat_ping
//! ```
//!
//! Prints `ping 1: 0.35 ms`, `ping 2: 0.21 ms`, ...; a reply that is not
//! the ping ends it with an error naming both (the original's `assert`).
//! Flags: `--endpoint`, `--settle-ms` (the wait for the connection, 1000),
//! `--pings N` (stop after N pings; the original runs until interrupted),
//! `--seed` (the random pauses).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use tx0mq::connections::{bytes_repr, zmq, ZmqConnection, ZmqEndpoint, ZmqFactory};
use tx0mq::{Ctx, Reactor};

mod heartbeat;
mod pyport;
use pyport::first;

/// Pings sent back to back after each pause.
const BURST: u64 = 4;

/// The pinger's state.
struct Pinger {
    /// The REQ connection.
    req: Option<ZmqConnection<Pinger>>,
    /// Pings sent so far; the last one's text is `ping {n}`.
    n: u64,
    /// When the last ping went.
    tic: Instant,
    /// Where the random pauses come from.
    rng: pyport::Random,
    /// Stop after this many pings, if set.
    limit: Option<u64>,
    /// A reply that was not its ping.
    mismatch: Option<String>,
}

/// Sends the next ping.
fn send_ping(cx: &mut Ctx<'_, Pinger>) -> Result<(), Box<dyn std::error::Error>> {
    cx.state.n += 1;
    let msg = format!("ping {}", cx.state.n);
    cx.state.tic = Instant::now();
    if let Some(req) = &cx.state.req {
        req.send(msg.as_bytes())?;
    }
    Ok(())
}

/// A random pause (`time.sleep(numpy.random.random())`), then a burst.
fn pause_then_burst(cx: &mut Ctx<'_, Pinger>) {
    let t = heartbeat::random(&mut cx.state.rng);
    cx.reactor.call_later(Duration::from_secs_f64(t), send_ping);
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::builder()
        .state(Pinger {
            req: None,
            n: 0,
            tic: Instant::now(),
            rng: pyport::Random::from_seed(args.seed),
            limit: args.pings,
            mismatch: None,
        })
        .build()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    let req = ZmqConnection::new(&factory, zmq::REQ, ZmqEndpoint::connect(args.endpoint))?;
    req.message_received(|cx, message| -> Result<(), Box<dyn std::error::Error>> {
        let resp = first(&message);
        let msg = format!("ping {}", cx.state.n);
        let ms = 1000.0 * cx.state.tic.elapsed().as_secs_f64();
        println!("{msg}: {ms:.2} ms");
        if resp != msg.as_bytes() {
            cx.state.mismatch = Some(format!(
                "the reply to {} was {}",
                bytes_repr(msg.as_bytes()),
                bytes_repr(resp)
            ));
            cx.reactor.stop()?;
            return Ok(());
        }
        if cx.state.limit.is_some_and(|limit| cx.state.n >= limit) {
            cx.reactor.stop()?;
            return Ok(());
        }
        if cx.state.n % BURST == 0 {
            pause_then_burst(&mut cx.ctx());
            Ok(())
        } else {
            send_ping(&mut cx.ctx())
        }
    });
    reactor.access_state(|s| s.req = Some(req))?;

    // Wait for connects, then the first pause and burst.
    reactor.call_later(args.settle, pause_then_burst);

    reactor.run()?;
    let mismatch = reactor.access_state(|s| s.mismatch.take())?;
    match mismatch {
        Some(why) => Err(why.into()),
        None => Ok(()),
    }
}

/// Pings an echo server in bursts of four and times the round trips
/// (pyzmq's heartbeat/ping.py).
#[derive(Parser)]
struct Args {
    /// Endpoint of the echo server
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://127.0.0.1:10111")]
    endpoint: String,
    /// Wait for the connection before the first ping, in milliseconds
    #[arg(long = "settle-ms", value_name = "MS", default_value = "1000", value_parser = pyport::millis)]
    settle: Duration,
    /// Stop after this many pings (default: run until interrupted)
    #[arg(long, value_name = "N")]
    pings: Option<u64>,
    /// Seed of the random pauses (default: from the clock)
    #[arg(long)]
    seed: Option<u64>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
