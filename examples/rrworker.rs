//! Request-reply service: connects to a broker's backend and answers each
//! `Hello` with `World`. Port of the zguide's `rrworker.py` (chapter 2).
//!
//! The original loops on a blocking `recv`. Here each request arrives in a
//! callback that replies at once. The REP side is `ZmqRepConnection` (a
//! ROUTER underneath, as in txZMQ), which routes the reply back through the
//! broker exactly as a REP socket would.
//!
//! ```text
//! cargo run --example rrworker        # connects tcp://localhost:5560 (rrbroker, msgqueue)
//! cargo run --example rrworker -- --connect ipc:///tmp/backend
//! ```
//!
//! Prints `Received request: b'Hello'` for each request; runs until Ctrl-C.

use std::process::ExitCode;

use tx0mq::connections::{bytes_repr, ZmqEndpoint, ZmqFactory, ZmqRepConnection};
use tx0mq::Reactor;

mod pyport;
use pyport::{first, Flags};

const USAGE: &str = "usage: rrworker [--connect ENDPOINT]
  --connect  endpoint of the broker's backend (default tcp://localhost:5560)";

fn main() -> ExitCode {
    env_logger::init();
    let flags = Flags::parse("rrworker", USAGE, &[("connect", None)], 0);
    pyport::finish("rrworker", run(&flags))
}

fn run(flags: &Flags) -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = flags.string("connect", "tcp://localhost:5560");

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
