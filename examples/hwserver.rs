//! Hello World server: answers each `b"Hello"` with `b"World"` after a
//! second of "work". Port of the zguide's `hwserver.py` (chapter 1).
//!
//! The original blocks in `recv`, sleeps a second, then replies. Here the
//! request arrives in a callback and the reply is sent by a timer
//! (`call_later`), so the reactor never sleeps. The REP side is
//! `ZmqRepConnection` (a ROUTER underneath, as in txZMQ): plain REQ clients
//! such as `hwclient.py` talk to it unchanged.
//!
//! ```text
//! cargo run --example hwserver                        # binds tcp://*:5555
//! cargo run --example hwserver -- --bind tcp://*:5555 --delay 0.01
//! ```
//!
//! Prints `Received request: b'Hello'` for each request. `--delay` (seconds,
//! default 1) is the time spent on each request.

use std::process::ExitCode;

use tx0mq::connections::{bytes_repr, ZmqEndpoint, ZmqFactory, ZmqRepConnection};
use tx0mq::Reactor;

mod pyport;
use pyport::{first, Flags};

const USAGE: &str = "usage: hwserver [--bind ENDPOINT] [--delay SECONDS]
  --bind   endpoint of the REP socket (default tcp://*:5555)
  --delay  seconds of 'work' before each reply (default 1)";

fn main() -> ExitCode {
    env_logger::init();
    let flags = Flags::parse("hwserver", USAGE, &[("bind", None), ("delay", None)], 0);
    pyport::finish("hwserver", run(&flags))
}

fn run(flags: &Flags) -> Result<(), Box<dyn std::error::Error>> {
    let endpoint = flags.string("bind", "tcp://*:5555");
    let work = flags.seconds("delay", 1.0);

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
