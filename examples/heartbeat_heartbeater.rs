//! `heartbeat/heartbeater.py`, pyzmq's heartbeater: a PUB socket bound to
//! `tcp://127.0.0.1:5555` sends a ping every second (the heartbeater's
//! lifetime in seconds, as text), and a ROUTER bound to
//! `tcp://127.0.0.1:5556` reads the hearts' replies, each tagged with the
//! replying heart's identity. Hearts are tracked by their replies: a heart
//! that answered the last ping with the right lifetime is beating, one that
//! was beating and did not answer has failed. Its hearts are `heart.py` (or
//! this crate's `heartbeat_heart`), any number of them.
//!
//! The port: the original's `PeriodicCallback` is a `LoopingCall`, its
//! `ZMQStream`s are a `ZmqPubConnection` and a `ZmqRouterConnection` whose
//! `got_message` records the replies; the sets of hearts live in the
//! reactor's state.
//!
//! ```sh
//! cargo run --example heartbeat_heartbeater &
//! cargo run --example heartbeat_heart
//! ```
//!
//! Prints, every beat, the lifetime (`1.0012049674987793`), then `yay, got
//! new heart b'\x00k\x8bEg'!` for each heart that answered for the first
//! time, `Heart b'\x00k\x8bEg' failed :(` for each that stopped, and
//! `1 beating hearts: {b'\x00k\x8bEg'}`; a reply to an older ping prints
//! `got bad heartbeat (possibly old?): b'0.99...'`. Python 3's formats,
//! where the original was written for Python 2 (`%s` of bytes is their
//! `repr`; an empty set is `set()`). Flags: `--ping` and `--pong` (the two
//! endpoints), `--period-ms` (1000), `--beats N` (stop after N beats; the
//! original runs until interrupted).

use std::collections::BTreeSet;
use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{
    bytes_repr, ZmqEndpoint, ZmqFactory, ZmqPubConnection, ZmqRouterConnection,
};
use tx0mq::{LoopingCall, Reactor};

mod pyport;
use pyport::{float_repr, time_time};

/// The heartbeater's state: the hearts it tracks and the replies to the
/// last ping.
#[derive(Default)]
struct HeartBeater {
    /// The hearts taken for beating, by identity.
    hearts: BTreeSet<Vec<u8>>,
    /// The hearts that answered the last ping.
    responses: BTreeSet<Vec<u8>>,
    /// Seconds since start, as of the last beat; its text is the ping.
    lifetime: f64,
    /// When the last beat was.
    tic: f64,
    /// Beats so far.
    beats: u64,
}

/// `{b'a', b'b'}`, or `set()` when empty: Python's repr of a set of bytes.
fn set_repr(set: &BTreeSet<Vec<u8>>) -> String {
    if set.is_empty() {
        return "set()".to_string();
    }
    let items: Vec<String> = set.iter().map(|id| bytes_repr(id)).collect();
    format!("{{{}}}", items.join(", "))
}

impl HeartBeater {
    /// One beat: account for the replies to the last ping, then send the
    /// next one (its text returned).
    fn beat(&mut self) -> String {
        let toc = time_time();
        self.lifetime += toc - self.tic;
        self.tic = toc;
        println!("{}", float_repr(self.lifetime));
        let good: BTreeSet<Vec<u8>> = self.hearts.intersection(&self.responses).cloned().collect();
        let failures: Vec<Vec<u8>> = self.hearts.difference(&good).cloned().collect();
        let new: Vec<Vec<u8>> = self.responses.difference(&good).cloned().collect();
        for heart in new {
            println!("yay, got new heart {}!", bytes_repr(&heart));
            self.hearts.insert(heart);
        }
        for heart in failures {
            println!("Heart {} failed :(", bytes_repr(&heart));
            self.hearts.remove(&heart);
        }
        self.responses.clear();
        println!(
            "{} beating hearts: {}",
            self.hearts.len(),
            set_repr(&self.hearts)
        );
        float_repr(self.lifetime)
    }

    /// A heart's reply: counts if it echoes the current lifetime.
    fn pong(&mut self, heart: &[u8], reply: &[u8]) {
        if reply == float_repr(self.lifetime).as_bytes() {
            self.responses.insert(heart.to_vec());
        } else {
            println!("got bad heartbeat (possibly old?): {}", bytes_repr(reply));
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::builder()
        .state(HeartBeater {
            tic: time_time(),
            ..HeartBeater::default()
        })
        .build()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    let ping = ZmqPubConnection::new(&factory, ZmqEndpoint::bind(args.ping))?;
    let pong = ZmqRouterConnection::new(&factory, ZmqEndpoint::bind(args.pong))?;
    pong.got_message(|cx, heart, parts| match parts.first() {
        Some(reply) if parts.len() == 1 => cx.state.pong(&heart, reply),
        _ => println!(
            "heart {} sent a malformed reply of {} frame(s), ignored",
            bytes_repr(&heart),
            parts.len()
        ),
    });

    let limit = args.beats;
    let caller = LoopingCall::new(&reactor, move |cx| {
        let message = cx.state.beat();
        cx.state.beats += 1;
        ping.send(message.as_bytes())?;
        if limit.is_some_and(|n| cx.state.beats >= n) {
            cx.reactor.stop()?;
        }
        Ok::<(), Box<dyn std::error::Error>>(())
    });
    // The first beat comes a period after start, as a PeriodicCallback's.
    caller.start(args.period, false)?;

    reactor.run()?;
    Ok(())
}

/// Pings hearts on a PUB and tracks them by their replies on a ROUTER
/// (pyzmq's heartbeat/heartbeater.py).
#[derive(Parser)]
struct Args {
    /// Endpoint the pings are published on
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://127.0.0.1:5555")]
    ping: String,
    /// Endpoint the hearts' replies come to
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://127.0.0.1:5556")]
    pong: String,
    /// Time between beats, in milliseconds
    #[arg(long = "period-ms", value_name = "MS", default_value = "1000", value_parser = pyport::millis)]
    period: std::time::Duration,
    /// Stop after this many beats (default: run until interrupted)
    #[arg(long, value_name = "N")]
    beats: Option<u64>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
