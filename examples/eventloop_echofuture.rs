//! `eventloop/echofuture.py`, pyzmq's echo server as a tornado coroutine
//! on `zmq.eventloop.future` sockets: a ROUTER bound on
//! `tcp://127.0.0.1:5555`, and one coroutine that loops forever, awaiting
//! each message and then awaiting the send of it back. (The original, as
//! published, sends an empty `send_multipart()` and gives its coroutine
//! arguments it is never called with; the port does what it means: echo
//! each message back to its sender.)
//!
//! The port: the coroutine is an `async` block spawned on the reactor. Its
//! `yield s.recv_multipart()` is the ROUTER connection's `MessageStream`
//! (`(sender, parts)` for each message), its `yield s.send_multipart(msg)`
//! is `send_ready().await` then `send_msg(sender, parts)`.
//!
//! ```text
//! cargo run --example eventloop_echofuture -- [--endpoint tcp://127.0.0.1:5555]
//! ```
//!
//! Like the original, it prints nothing: it echoes each message until
//! interrupted.

use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{bytes_repr, ZmqEndpoint, ZmqFactory, ZmqRouterConnection};
use tx0mq::{Failure, Reactor};

mod pyport;

/// `echo()`: receive, send back, forever.
async fn echo(s: ZmqRouterConnection) -> Result<(), Failure> {
    let mut messages = s.messages()?;
    while let Some((sender, msg)) = messages.next().await {
        s.send_ready().await?;
        if let Err(e) = s.send_msg(&sender, msg) {
            eprintln!("echo to {} failed: {e}", bytes_repr(&sender));
        }
    }
    Ok(())
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let s = ZmqRouterConnection::new(&factory, ZmqEndpoint::bind(&args.endpoint))?;
    // loop.spawn_callback(echo)
    reactor.spawn(echo(s)).add_errback(|failure| {
        eprintln!("echo failed: {failure}");
        Ok(())
    });
    reactor.run()?;
    Ok(())
}

/// A ROUTER echo server as a coroutine (pyzmq's eventloop/echofuture.py).
#[derive(Parser)]
struct Args {
    /// Where the ROUTER binds
    #[arg(long, default_value = "tcp://127.0.0.1:5555")]
    endpoint: String,
}

fn main() -> ExitCode {
    pyport::main(run)
}
