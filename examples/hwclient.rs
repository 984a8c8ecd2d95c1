//! Hello World client: sends `Hello` ten times, one at a time, and prints
//! each `World` it gets back. Port of the zguide's `hwclient.py` (chapter 1).
//!
//! The original loops `send` / blocking `recv`. Here the first request goes
//! out before the reactor runs and each reply, arriving in a callback, sends
//! the next request; after the tenth the reactor stops. The socket is a real
//! REQ socket, so it talks to `hwserver.py`, `hwserver` or `mtserver`.
//!
//! ```text
//! cargo run --example hwclient                        # connects tcp://localhost:5555
//! cargo run --example hwclient -- --connect tcp://127.0.0.1:5555
//! ```
//!
//! Prints `Connecting to hello world server...`, then `Sending request N ...`
//! and `Received reply N [ b'World' ]` for N = 0..9, and exits.

use std::process::ExitCode;

use tx0mq::connections::{bytes_repr, zmq, ZmqConnection, ZmqEndpoint, ZmqFactory};
use tx0mq::Reactor;

mod pyport;
use pyport::{first, Flags};

const USAGE: &str = "usage: hwclient [--connect ENDPOINT]
  --connect  endpoint of the server (default tcp://localhost:5555)";

const REQUESTS: u32 = 10;

fn main() -> ExitCode {
    env_logger::init();
    let flags = Flags::parse("hwclient", USAGE, &[("connect", None)], 0);
    pyport::finish("hwclient", run(&flags))
}

fn run(flags: &Flags) -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = flags.string("connect", "tcp://localhost:5555");

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
