//! `eventloop/echostream.py`, pyzmq's echo server with a `ZMQStream`: a
//! ROUTER socket bound on `tcp://127.0.0.1:5555` is wrapped in a stream
//! whose `on_recv` callback prints each message (its frames' reprs joined by
//! spaces) and sends it back with the stream's `send_multipart`, which
//! queues it in the loop until the socket can take it.
//!
//! The port: a `ZmqStream` is what a tx0mq connection is. `on_recv(echo)`
//! is the raw connection's `message_received` closure, which gets the whole
//! message, routing id first, and `stream.send_multipart(msg)` is the
//! connection's `send`, which hands it to libzmq (a ROUTER never queues: a
//! message for a peer that is gone is dropped, as libzmq's ROUTER does).
//!
//! ```text
//! cargo run --example eventloop_echostream -- [--endpoint tcp://127.0.0.1:5555]
//! ```
//!
//! For each message it prints `b'\x00k\x8bEg' b'hello'` (routing id, then
//! the frames) and echoes it. It runs until interrupted.

use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{bytes_repr, zmq, ZmqConnection, ZmqEndpoint, ZmqFactory};
use tx0mq::Reactor;

mod pyport;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let stream = ZmqConnection::new(&factory, zmq::ROUTER, ZmqEndpoint::bind(&args.endpoint))?;
    // stream.on_recv(echo)
    stream.message_received(|cx, msg| {
        let reprs: Vec<String> = msg.iter().map(|frame| bytes_repr(frame)).collect();
        println!("{}", reprs.join(" "));
        cx.conn.send(msg)
    });
    reactor.run()?;
    Ok(())
}

/// A ROUTER echo server on a stream's callback (pyzmq's
/// eventloop/echostream.py).
#[derive(Parser)]
struct Args {
    /// Where the ROUTER binds
    #[arg(long, default_value = "tcp://127.0.0.1:5555")]
    endpoint: String,
}

fn main() -> ExitCode {
    pyport::main(run)
}
