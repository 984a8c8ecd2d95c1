//! `rrworker.py`, the zguide's request-reply service (chapter 2, "Shared
//! Queue (DEALER and ROUTER sockets)"): a REP socket connected to a broker's
//! backend on `tcp://localhost:5560` answers each `Hello` with `World`,
//! printing each request, forever. Its other halves are `rrbroker.py` (or
//! `msgqueue.py`) and `rrclient.py` (or this crate's `rrbroker`, `msgqueue`
//! and `rrclient`).
//!
//! The port: each request arrives in a callback that replies at once. The
//! REP side is `ZmqRepConnection` (a ROUTER underneath, as in txZMQ), which
//! routes the reply back through the broker exactly as a REP socket would.
//!
//! ```text
//! cargo run --example rrworker        # connects tcp://localhost:5560 (rrbroker, msgqueue)
//! cargo run --example rrworker -- --connect ipc:///tmp/backend
//! ```
//!
//! Prints `Received request: b'Hello'` for each request; runs until Ctrl-C.

use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{bytes_repr, ZmqEndpoint, ZmqFactory, ZmqRepConnection};
use tx0mq::Reactor;

mod pyport;
use pyport::first;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = args.connect;

    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let socket = ZmqRepConnection::new(&factory, ZmqEndpoint::connect(endpoint))?;

    socket.got_message(|cx, message_id, message| {
        println!("Received request: {}", bytes_repr(first(&message)));
        cx.conn.reply(&message_id, b"World")
    });

    reactor.run()?;
    Ok(())
}

/// Request-reply service: answers each Hello with World (zguide's rrworker.py).
#[derive(Parser)]
struct Args {
    /// Endpoint of the broker's backend
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5560")]
    connect: String,
}

fn main() -> ExitCode {
    pyport::main(run)
}
