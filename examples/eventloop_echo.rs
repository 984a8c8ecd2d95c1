//! `eventloop/echo.py`, pyzmq's basic echo server on tornado's event loop
//! without pyzmq's integration: a ROUTER socket bound on
//! `tcp://127.0.0.1:5555` is registered with the loop by hand
//! (`add_handler` on its file descriptor); the handler checks `EVENTS` for
//! `POLLIN`, receives one message, prints it as a list and sends it straight
//! back to its sender, and reschedules itself while more are waiting (the
//! descriptor is edge-triggered).
//!
//! The port: what the original does by hand (watch the descriptor, check
//! `ZMQ_EVENTS`, drain in turns) is what a tx0mq connection does for every
//! socket, so the handler becomes a protocol: a `RouterProtocol` whose
//! `got_message` hears each message with its sender's routing id and sends
//! it back with `send_msg`. The reactor reads in batches and comes back for
//! the rest, the original's `add_callback` while `POLLIN`.
//!
//! ```text
//! cargo run --example eventloop_echo -- [--endpoint tcp://127.0.0.1:5555]
//! ```
//!
//! For each message it prints the frames as Python prints the list,
//! routing id first (`[b'\x00k\x8bEg', b'hello']`), and echoes it. It runs
//! until interrupted. Talk to it with any DEALER (or REQ) client.

use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{
    Frame, Multipart, RouterProtocol, ZmqCtx, ZmqEndpoint, ZmqFactory, ZmqRouterConnection,
};
use tx0mq::Reactor;

mod pyport;

/// `echo(sock, events)`: prints each message and sends it back.
struct Echo;

impl RouterProtocol for Echo {
    fn got_message(
        &mut self,
        cx: &mut ZmqCtx<'_, (), ZmqRouterConnection>,
        sender: Frame,
        message: Multipart,
    ) {
        let msg: Vec<&[u8]> = std::iter::once(&sender[..])
            .chain(message.iter().map(|part| &part[..]))
            .collect();
        println!("{}", pyport::bytes_list_repr(&msg));
        if let Err(e) = cx.conn.send_msg(&sender, message) {
            eprintln!(
                "echo to {} failed: {e}",
                tx0mq::connections::bytes_repr(&sender)
            );
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let s = ZmqRouterConnection::new(&factory, ZmqEndpoint::bind(&args.endpoint))?;
    s.set_protocol(Echo)?;
    reactor.run()?;
    Ok(())
}

/// A ROUTER echo server (pyzmq's eventloop/echo.py).
#[derive(Parser)]
struct Args {
    /// Where the ROUTER binds
    #[arg(long, default_value = "tcp://127.0.0.1:5555")]
    endpoint: String,
}

fn main() -> ExitCode {
    pyport::main(run)
}
