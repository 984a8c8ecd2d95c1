//! `rrclient.py`, the zguide's request-reply client (chapter 2, "Shared
//! Queue (DEALER and ROUTER sockets)"): a REQ socket connected to a broker's
//! frontend on `tcp://localhost:5559` sends `Hello` ten times, one at a
//! time, and prints each reply. Its other halves are `rrbroker.py` (or
//! `msgqueue.py`) and `rrworker.py` (or this crate's `rrbroker`, `msgqueue`
//! and `rrworker`).
//!
//! The port: as in `hwclient`, the first request goes out before the reactor
//! runs and each reply, arriving in a callback, sends the next; after the
//! tenth the reactor stops. The socket is a real REQ socket.
//!
//! ```text
//! cargo run --example rrclient        # connects tcp://localhost:5559 (rrbroker, msgqueue)
//! cargo run --example rrclient -- --connect ipc:///tmp/frontend
//! ```
//!
//! Prints `Received reply N [b'World']` for N = 1..10 and exits.

use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{bytes_repr, zmq, ZmqConnection, ZmqEndpoint, ZmqFactory};
use tx0mq::Reactor;

mod pyport;
use pyport::first;

const REQUESTS: u32 = 10;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = args.connect;

    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let socket = ZmqConnection::new(&factory, zmq::REQ, ZmqEndpoint::connect(endpoint))?;

    // Do 10 requests, waiting each time for a response.
    let mut request = 1;
    socket.send(b"Hello")?;
    socket.message_received(move |cx, message| {
        println!("Received reply {request} [{}]", bytes_repr(first(&message)));
        if request == REQUESTS {
            // Done: close the socket (a REQ socket must not be read again
            // before it sends) and stop.
            cx.conn.shutdown();
            cx.reactor.stop()?;
            return Ok(());
        }
        request += 1;
        cx.conn.send(b"Hello")
    });

    reactor.run()?;
    Ok(())
}

/// Request-reply client: ten requests through a broker (zguide's rrclient.py).
#[derive(Parser)]
struct Args {
    /// Endpoint of the broker's frontend
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5559")]
    connect: String,
}

fn main() -> ExitCode {
    pyport::main(run)
}
