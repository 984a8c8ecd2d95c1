//! `echoclient.py`, the client of Twisted's documentation
//! (`docs/core/examples/echoclient.py`): a `LineReceiver` that connects to
//! `localhost:8000`, sends three lines, prints each line that comes back
//! (`receive: b'Hello, world!'`) and closes the connection after the last
//! one, `Bye-bye!`. Its factory prints how the connection ended and fires
//! the Deferred that `task.react(main)` waits for. Its other half is
//! `echoserv.py` (or this crate's `echoserv`).
//!
//! The port: `EchoClient` is a `LineProtocol` run by a `LineReceiver`
//! (Twisted's subclass of `LineReceiver`), the factory a `ClientFactory`
//! with the same two callbacks, `reactor.connectTCP("localhost", 8000, f)`
//! is `reactor.connect_tcp("localhost", 8000, f)`, and `task.react` is
//! `run_until_complete` on the factory's Deferred: a failed connection
//! makes the exit status 1, as `react` does.
//!
//! ```text
//! cargo run --example echoclient                  # connects to localhost:8000
//! cargo run --example echoclient -- --host 127.0.0.1 --port 43121
//! ```
//!
//! Prints `receive: b'Hello, world!'`, `receive: b'What a fine day it is.'`,
//! `receive: b'Bye-bye!'`, then `connection lost: Connection was closed
//! cleanly.`; or `connection failed: Connection was refused by other side:
//! Connection refused.` and exits 1.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::bytes_repr;
use tx0mq::net::basic::{LineCtx, LineProtocol, LineReceiver};
use tx0mq::net::{ClientFactory, Connector, ReactorNet, Reason};
use tx0mq::{Ctx, Deferred, Failure, Reactor};

mod pyport;

/// The last line: the server echoing it ends the conversation.
const END: &[u8] = b"Bye-bye!";

struct EchoClient;

impl LineProtocol for EchoClient {
    fn connection_made(&mut self, cx: &mut LineCtx<'_>) {
        for line in [&b"Hello, world!"[..], b"What a fine day it is.", END] {
            if let Err(e) = cx.send_line(line) {
                log::warn!("{e}");
            }
        }
    }

    fn line_received(&mut self, cx: &mut LineCtx<'_>, line: &[u8]) {
        println!("receive: {}", bytes_repr(line));
        if line == END {
            cx.transport.lose_connection();
        }
    }
}

struct EchoClientFactory {
    done: Deferred<()>,
}

impl ClientFactory for EchoClientFactory {
    type Protocol = LineReceiver<EchoClient>;

    fn build_protocol(&mut self, _addr: SocketAddr) -> Self::Protocol {
        LineReceiver::new(EchoClient)
    }

    fn client_connection_failed(&mut self, _cx: &mut Ctx<'_>, _c: &Connector, reason: &Reason) {
        println!("connection failed: {reason}");
        let _ = self.done.errback(Failure::msg(reason.to_string()));
    }

    fn client_connection_lost(&mut self, _cx: &mut Ctx<'_>, _c: &Connector, reason: &Reason) {
        println!("connection lost: {reason}");
        let _ = self.done.callback(());
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let done = Deferred::new();
    let factory = EchoClientFactory { done: done.clone() };
    reactor.connect_tcp(&args.host, args.port, factory);
    reactor
        .run_until_complete(done)?
        .map_err(|failure| failure.to_string())?;
    Ok(())
}

/// Echo client: sends three lines and prints the echoes (Twisted's echoclient.py).
#[derive(Parser)]
struct Args {
    /// Host of the echo server
    #[arg(long, default_value = "localhost")]
    host: String,
    /// Port of the echo server
    #[arg(long, default_value_t = 8000)]
    port: u16,
}

fn main() -> ExitCode {
    pyport::main(run)
}
