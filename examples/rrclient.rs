//! Request-reply client: sends `Hello` ten times through a broker, one at a
//! time, and prints each reply. Port of the zguide's `rrclient.py`
//! (chapter 2).
//!
//! As in `hwclient`, the first request goes out before the reactor runs and
//! each reply, arriving in a callback, sends the next; after the tenth the
//! reactor stops. The socket is a real REQ socket.
//!
//! ```text
//! cargo run --example rrclient        # connects tcp://localhost:5559 (rrbroker, msgqueue)
//! cargo run --example rrclient -- --connect ipc:///tmp/frontend
//! ```
//!
//! Prints `Received reply N [b'World']` for N = 1..10 and exits.

use std::process::ExitCode;

use tx0mq::connections::{bytes_repr, zmq, ZmqConnection, ZmqEndpoint, ZmqFactory};
use tx0mq::Reactor;

mod pyport;
use pyport::{first, Flags};

const USAGE: &str = "usage: rrclient [--connect ENDPOINT]
  --connect  endpoint of the broker's frontend (default tcp://localhost:5559)";

const REQUESTS: u32 = 10;

fn main() -> ExitCode {
    env_logger::init();
    let flags = Flags::parse("rrclient", USAGE, &[("connect", None)], 0);
    pyport::finish("rrclient", run(&flags))
}

fn run(flags: &Flags) -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = flags.string("connect", "tcp://localhost:5559");

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
