//! `asyncio/router_router.py`, pyzmq's ROUTER-to-ROUTER example (the
//! socket for peer-to-peer designs: it connects to several peers and
//! receives from all of them). A server ROUTER with the identity `server`
//! binds `inproc://test_zmq`; two client ROUTERs, `romeo` and `sierra`,
//! connect to it. Each client, every tenth of a second, sends
//! `[b'server', b'', b'cheers']` (the first frame picks the peer) and awaits
//! the reply; the server answers each with `whatup`. The original's
//! `aiowire.EventLoop(1.0)` runs the three coroutines for a second and then
//! stops.
//!
//! The port: each coroutine is an `async` block spawned on the reactor,
//! receiving from its connection's `MessageStream` (a ROUTER stream yields
//! `(sender, parts)`) and sending with `send_msg(recipient, parts)`; a timer
//! stops the reactor after `--run-ms`.
//!
//! ```text
//! cargo run --example asyncio_router_router -- [--url inproc://test_zmq]
//!     [--interval-ms 100] [--run-ms 1000]
//! ```
//!
//! The server prints `Server received [b'romeo', b'', b'cheers']` for each
//! request (or `sierra`), each client `romeo received [b'server', b'', b'whatup']`.
//! It exits after a second.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqOptions, ZmqRouterConnection};
use tx0mq::reactor::sleep;
use tx0mq::{Failure, Reactor};

mod pyport;

/// `Server.run`: answers each request with `whatup`.
async fn server(socket: ZmqRouterConnection) -> Result<(), Failure> {
    let mut requests = socket.messages()?;
    while let Some((sender, parts)) = requests.next().await {
        let req: Vec<&[u8]> = std::iter::once(&sender[..])
            .chain(parts.iter().map(|part| &part[..]))
            .collect();
        println!("Server received {}", pyport::bytes_list_repr(&req));
        // identity of the peer, empty frame, message content
        socket.send_msg(&sender, [&b""[..], b"whatup"])?;
    }
    Ok(())
}

/// `Client.run`: every `interval`, asks the server and prints its reply.
async fn client(
    reactor: Reactor,
    socket: ZmqRouterConnection,
    name: &'static str,
    interval: Duration,
) -> Result<(), Failure> {
    let mut replies = socket.messages()?;
    loop {
        sleep(&reactor, interval).await?;
        socket.send_msg(b"server", [&b""[..], b"cheers"])?;
        match replies.next().await {
            // A ROUTER's recv_multipart starts with the sender's identity.
            Some((server, parts)) => {
                let mut rep = vec![server];
                rep.extend(parts);
                println!("{name} received {}", pyport::bytes_list_repr(&rep));
            }
            None => return Ok(()),
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let srv = ZmqRouterConnection::with_options(
        &factory,
        ZmqEndpoint::bind(&args.url),
        &ZmqOptions::new().identity("server"),
    )?;
    let mut tasks = vec![reactor.spawn(server(srv))];
    for name in ["romeo", "sierra"] {
        let socket = ZmqRouterConnection::with_options(
            &factory,
            ZmqEndpoint::connect(&args.url),
            &ZmqOptions::new().identity(name),
        )?;
        tasks.push(reactor.spawn(client(reactor.clone(), socket, name, args.interval)));
    }
    reactor.call_later(args.run, |cx| cx.reactor.stop());
    pyport::run_coroutines(&reactor, tasks)
}

/// Two ROUTER clients talk to a ROUTER server for a second (pyzmq's
/// asyncio/router_router.py).
#[derive(Parser)]
struct Args {
    /// Where the server binds and the clients connect
    #[arg(long, default_value = "inproc://test_zmq")]
    url: String,
    /// How long each client waits before each request, in milliseconds
    #[arg(long = "interval-ms", value_name = "MS", default_value = "100", value_parser = pyport::millis)]
    interval: Duration,
    /// How long the whole runs, in milliseconds
    #[arg(long = "run-ms", value_name = "MS", default_value = "1000", value_parser = pyport::millis)]
    run: Duration,
}

fn main() -> ExitCode {
    pyport::main(run)
}
