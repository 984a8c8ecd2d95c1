//! A line-based TCP service that publishes on ZeroMQ: each line a TCP client
//! sends is published on a PUB socket, with txZMQ's tag framing. This is the
//! mixed application the network transports exist for: a Twisted program
//! that listens with a `LineReceiver` (as `chatserver.py` does) and whose
//! `lineReceived` calls a txZMQ `ZmqPubConnection.publish(line, tag)`, both
//! on one reactor.
//!
//! It has no single Python original; the Twisted + txZMQ program it stands
//! for is `chatserver.py`'s `LineReceiver` and factory with txZMQ's
//! `pub_sub.py` publisher in place of the list of clients, run by
//! `reactor.listenTCP(port, factory)`. Here the protocol keeps a handle to
//! the PUB connection; the reactor runs both the TCP port and the ZeroMQ
//! socket, and a line is published from inside the TCP callback without
//! any thread. Any SUB hears the lines: txZMQ's `ZmqSubConnection` (its
//! `gotMessage(message, tag)` gets the line and the tag), this crate's
//! `ZmqSubConnection`, or a plain SUB, which receives `tag\0line`.
//!
//! ```text
//! cargo run --example tcp_to_pub                  # TCP port 8000, PUB on tcp://*:5556
//! cargo run --example tcp_to_pub -- --interface 127.0.0.1 --port 0 --publish ipc:///tmp/lines --tag chat
//! ```
//!
//! Prints `Got new client: 127.0.0.1:40000` and `Lost a client:
//! 127.0.0.1:40000` as TCP clients come and go; with `--port 0`,
//! `Listening on 127.0.0.1:43121` first. Lines end with `\r\n` or `\n`
//! (a `\r` before the `\n` is dropped); a line longer than 16,384 bytes
//! closes its connection.

use std::net::IpAddr;
use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqPubConnection};
use tx0mq::net::basic::{LineCtx, LineProtocol, LineReceiver};
use tx0mq::net::Reason;
use tx0mq::Reactor;

mod pyport;

/// One TCP client's lines, each published.
struct Relay {
    publisher: ZmqPubConnection,
    tag: Vec<u8>,
}

impl LineProtocol for Relay {
    fn connection_made(&mut self, cx: &mut LineCtx<'_>) {
        println!("Got new client: {}", cx.transport.get_peer());
    }

    fn line_received(&mut self, _cx: &mut LineCtx<'_>, line: &[u8]) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Err(e) = self.publisher.publish(line, &self.tag) {
            log::warn!("a line was not published: {e}");
        }
    }

    fn connection_lost(&mut self, cx: &mut LineCtx<'_>, _reason: &Reason) {
        println!("Lost a client: {}", cx.transport.get_peer());
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let publisher = ZmqPubConnection::new(&factory, ZmqEndpoint::bind(args.publish))?;
    let tag = args.tag.into_bytes();
    let _port = pyport::listen_tcp(&reactor, args.interface, args.port, move |_addr| {
        let relay = Relay {
            publisher: publisher.clone(),
            tag: tag.clone(),
        };
        LineReceiver::new(relay).delimiter(b"\n")
    })?;
    reactor.run()?;
    Ok(())
}

/// TCP lines to ZeroMQ: publishes each line TCP clients send.
#[derive(Parser)]
struct Args {
    /// TCP port to listen on (0: the kernel chooses, and it is printed)
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// Address of the interface to listen on
    #[arg(long, value_name = "ADDRESS", default_value = "0.0.0.0")]
    interface: IpAddr,
    /// Endpoint the PUB socket binds
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:5556")]
    publish: String,
    /// Tag of the published lines (txZMQ's publish(message, tag))
    #[arg(long, default_value = "lines")]
    tag: String,
}

fn main() -> ExitCode {
    pyport::main(run)
}
