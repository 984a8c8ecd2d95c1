//! `hwclient.py`, the zguide's Hello World client (chapter 1, "Ask and Ye
//! Shall Receive"): a REQ socket connected to `tcp://localhost:5555` sends
//! `Hello` ten times, each time waiting for the reply, and prints each
//! request and reply. Its other half is `hwserver.py` (or this crate's
//! `hwserver` or `mtserver`).
//!
//! The port: the original loops `send` / blocking `recv`. Here the first
//! request goes out before the reactor runs and each reply, arriving in a
//! callback, sends the next request; after the tenth the reactor stops. The
//! socket is a real REQ socket, so it talks to any REP server.
//!
//! ```text
//! cargo run --example hwclient                        # connects tcp://localhost:5555
//! cargo run --example hwclient -- --connect tcp://127.0.0.1:5555
//! ```
//!
//! Prints `Connecting to hello world server...`, then `Sending request N ...`
//! and `Received reply N [ b'World' ]` for N = 0..9, and exits.

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

    // Socket to talk to the server.
    println!("Connecting to hello world server...");
    let socket = ZmqConnection::new(&factory, zmq::REQ, ZmqEndpoint::connect(endpoint))?;

    // Do 10 requests, waiting each time for a response.
    let mut request = 0;
    println!("Sending request {request} ...");
    socket.send("Hello")?;
    socket.message_received(move |cx, message| {
        println!(
            "Received reply {request} [ {} ]",
            bytes_repr(first(&message))
        );
        request += 1;
        if request == REQUESTS {
            // Done: close the socket (a REQ socket must not be read again
            // before it sends) and stop.
            cx.conn.shutdown();
            cx.reactor.stop()?;
            return Ok(());
        }
        println!("Sending request {request} ...");
        cx.conn.send("Hello")
    });

    reactor.run()?;
    Ok(())
}

/// Hello World client: ten requests, one at a time (zguide's hwclient.py).
#[derive(Parser)]
struct Args {
    /// Endpoint of the server
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5555")]
    connect: String,
}

fn main() -> ExitCode {
    pyport::main(run)
}
