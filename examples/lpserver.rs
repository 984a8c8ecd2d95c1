//! `lpserver.py`, the zguide's Lazy Pirate server (chapter 4, "Client-Side
//! Reliability (Lazy Pirate Pattern)"): a REP socket bound to
//! `tcp://*:5555` echoes each request after a second of "heavy work". After
//! the first four requests it misbehaves at random: one time in four it
//! "crashes" (logs it and exits, leaving the request unanswered), and
//! otherwise one time in four it "overloads" (sleeps two seconds more before
//! working). Its other half is `lpclient`, which retries on silence.
//!
//! The port: the REP socket is a raw `ZmqConnection` of type REP, and the
//! sleeps are `call_later`s. While a request is being worked on, the
//! connection is paused (the original reads nothing while it sleeps); the
//! reply resumes it. A crash stops the reactor. The random
//! numbers come from a generator that `--seed N` makes repeatable, so a
//! test knows at which request the server will crash.
//!
//! ```sh
//! cargo run --example lpserver &
//! cargo run --example lpclient
//! ```
//!
//! Prints the original's log lines, on stdout: `INFO: Normal request
//! (b'0')` per request, `INFO: Simulating CPU overload`, and `INFO:
//! Simulating a crash` before it exits (status 0, as the original's loop
//! ends). Flags: `--bind` (`tcp://*:5555`), `--seed N` (default: seeded from
//! the clock), `--work-ms` (1000) and `--overload-ms` (2000), the original's
//! sleeps.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{bytes_repr, zmq, ZmqConnection, ZmqEndpoint, ZmqFactory};
use tx0mq::Reactor;

mod pyport;
use pyport::Random;

/// The server's state.
struct Server {
    /// Requests received so far (the original's `cycles`, counted from 0).
    cycles: u64,
    random: Random,
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::with_state(Server {
        cycles: 0,
        random: Random::from_seed(args.seed),
    })?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let server = ZmqConnection::new(&factory, zmq::REP, ZmqEndpoint::bind(&args.bind))?;

    let (work, overload) = (args.work, args.overload);
    server.message_received(move |cx, message| {
        let request = pyport::first(&message).to_vec();
        let cycles = cx.state.cycles;
        cx.state.cycles += 1;

        // Simulate various problems, after a few cycles
        let random = &mut cx.state.random;
        if cycles > 3 && random.randint(0, 3) == 0 {
            println!("INFO: Simulating a crash");
            return cx.reactor.stop();
        }
        let stall = if cycles > 3 && random.randint(0, 3) == 0 {
            println!("INFO: Simulating CPU overload");
            overload
        } else {
            Duration::ZERO
        };

        // Nothing more is read until this request is answered.
        cx.conn.pause_reading();
        let conn = cx.conn.clone();
        cx.reactor.call_later(stall, move |cx| {
            println!("INFO: Normal request ({})", bytes_repr(&request));
            // Do some heavy work
            cx.reactor.call_later(work, move |_| {
                let sent = conn.send([&request[..]]);
                conn.resume_reading();
                sent
            });
        });
        Ok(())
    });

    reactor.run()?;
    Ok(())
}

/// Lazy Pirate server: echoes requests, slowly, and crashes at random
/// (zguide's lpserver.py).
#[derive(Parser)]
struct Args {
    /// Endpoint to bind
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:5555")]
    bind: String,
    /// Seed of the random crashes and overloads [default: from the clock]
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// The "heavy work" before each reply, in milliseconds
    #[arg(long = "work-ms", value_name = "MS", default_value = "1000", value_parser = pyport::millis)]
    work: Duration,
    /// The extra stall of a simulated CPU overload, in milliseconds
    #[arg(long = "overload-ms", value_name = "MS", default_value = "2000", value_parser = pyport::millis)]
    overload: Duration,
}

fn main() -> ExitCode {
    pyport::main(run)
}
