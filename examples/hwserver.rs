//! `hwserver.py`, the zguide's Hello World server (chapter 1, "Ask and Ye
//! Shall Receive"): a REP socket bound to `tcp://*:5555` receives each
//! request, prints it, sleeps a second of "work" and answers `World`. Its
//! other half is `hwclient.py` (or this crate's `hwclient`).
//!
//! The port: the request arrives in a callback and the reply is sent by a
//! timer (`call_later`), so the reactor never sleeps. The REP side is
//! `ZmqRepConnection` (a ROUTER underneath, as in txZMQ): plain REQ clients
//! such as `hwclient.py` talk to it unchanged.
//!
//! ```text
//! cargo run --example hwserver                        # binds tcp://*:5555
//! cargo run --example hwserver -- --bind tcp://*:5555 --delay-ms 10
//! ```
//!
//! Prints `Received request: b'Hello'` for each request. `--delay-ms`
//! (default 1000) is the time spent on each request.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{bytes_repr, ZmqEndpoint, ZmqFactory, ZmqRepConnection};
use tx0mq::Reactor;

mod pyport;
use pyport::first;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = args.bind;
    let work = args.delay;

    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let socket = ZmqRepConnection::new(&factory, ZmqEndpoint::bind(endpoint))?;

    socket.got_message(move |cx, message_id, message| {
        // Wait for the next request from a client.
        println!("Received request: {}", bytes_repr(first(&message)));
        // Do some 'work', then send the reply back to the client.
        let socket = cx.conn.clone();
        cx.reactor
            .call_later(work, move |_| socket.reply(&message_id, "World"));
    });

    reactor.run()?;
    Ok(())
}

/// Hello World server: answers each Hello with World (zguide's hwserver.py).
#[derive(Parser)]
struct Args {
    /// Endpoint of the REP socket
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:5555")]
    bind: String,
    /// Milliseconds of "work" before each reply
    #[arg(long = "delay-ms", value_name = "MS", default_value = "1000", value_parser = pyport::millis)]
    delay: Duration,
}

fn main() -> ExitCode {
    pyport::main(run)
}
