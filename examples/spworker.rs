//! `spworker.py`, the zguide's Simple Pirate worker (chapter 4, "Basic
//! Reliable Queuing (Simple Pirate Pattern)"): a REQ socket with a random
//! printable identity (`%04X-%04X`) connects to the queue's backend on
//! `tcp://localhost:5556`, says it is ready (`"\x01"`), then answers each
//! request with the request itself after a second of work. At random it
//! "crashes" (one request in six; it exits without answering) or, from the
//! fourth request on, "overloads" (one in six; three seconds more).
//!
//! The port: the REQ socket is a raw `ZmqConnection` of type REQ; the sleeps
//! are `call_later`s, with the connection paused meanwhile (the original
//! reads nothing while it sleeps). A crash stops the reactor. `--seed N`
//! makes the random identity, crashes and overloads repeatable.
//!
//! ```sh
//! cargo run --example spqueue &
//! cargo run --example spworker &
//! cargo run --example lpclient
//! ```
//!
//! Prints the original's lines: `I: (1A2B-3C4D) worker ready`, then per
//! request `I: (1A2B-3C4D) normal reply`, `I: (1A2B-3C4D) simulating CPU
//! overload` or `I: (1A2B-3C4D) simulating a crash`. Flags: `--connect`
//! (`tcp://localhost:5556`), `--seed N`, `--work-ms` (1000), `--overload-ms`
//! (3000).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{zmq, Frame, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqOptions};
use tx0mq::Reactor;

mod pyport;
use pyport::Random;
mod pirates;
use pirates::LRU_READY;

/// The worker's state.
struct Worker {
    /// Requests received so far (the original's `cycles`).
    cycles: u64,
    random: Random,
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut random = Random::from_seed(args.seed);
    let identity = pirates::worker_identity(&mut random);
    let reactor = Reactor::with_state(Worker { cycles: 0, random })?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let options = ZmqOptions::new().identity(&identity);
    let endpoint = ZmqEndpoint::connect(&args.connect);
    let worker = ZmqConnection::with_options(&factory, zmq::REQ, endpoint, &options)?;

    println!("I: ({identity}) worker ready");
    worker.send([LRU_READY])?;

    let (work, overload) = (args.work, args.overload);
    worker.message_received(move |cx, msg| {
        cx.state.cycles += 1;
        let cycles = cx.state.cycles;
        let random = &mut cx.state.random;
        // A crash may come from the first request on, an overload from the fourth.
        if random.randint(0, 5) == 0 {
            println!("I: ({identity}) simulating a crash");
            return cx.reactor.stop();
        }
        let stall = if cycles > 3 && random.randint(0, 5) == 0 {
            println!("I: ({identity}) simulating CPU overload");
            overload
        } else {
            Duration::ZERO
        };
        cx.conn.pause_reading();
        let (conn, identity) = (cx.conn.clone(), identity.clone());
        let msg: Vec<Frame> = msg.into_vec();
        cx.reactor.call_later(stall, move |cx| {
            println!("I: ({identity}) normal reply");
            // Do some heavy work
            cx.reactor.call_later(work, move |_| {
                let sent = conn.send(msg);
                conn.resume_reading();
                sent
            });
        });
        Ok(())
    });

    reactor.run()?;
    Ok(())
}

/// Simple Pirate worker: echoes requests from the queue, slowly, and
/// crashes at random (zguide's spworker.py).
#[derive(Parser)]
struct Args {
    /// The queue's backend
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5556")]
    connect: String,
    /// Seed of the identity, crashes and overloads [default: from the clock]
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// The "heavy work" before each reply, in milliseconds
    #[arg(long = "work-ms", value_name = "MS", default_value = "1000", value_parser = pyport::millis)]
    work: Duration,
    /// The extra stall of a simulated CPU overload, in milliseconds
    #[arg(long = "overload-ms", value_name = "MS", default_value = "3000", value_parser = pyport::millis)]
    overload: Duration,
}

fn main() -> ExitCode {
    pyport::main(run)
}
