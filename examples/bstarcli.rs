//! `bstarcli.py`, the zguide's Binary Star client (chapter 4, "High-Availability
//! Pair (Binary Star Pattern)"): a REQ socket connected to the primary,
//! `tcp://localhost:5001`, sends sequence numbers one by one, a second
//! apart. It waits 1000 ms for each reply; on silence it says it fails over,
//! waits 2000 ms for the pair to settle, closes its socket, connects a new
//! one to the other server (`tcp://localhost:5002`, then back again) and
//! resends. Its servers are `bstarsrv` or `bstarsrv2`, run as `-p` and `-b`.
//!
//! The port: the client is a raw REQ connection and the reactor's state
//! (server, sequence number, the reply's timer). Each `poll(1000)` is a
//! `DelayedCall` that the reply cancels; each `sleep` a `call_later`.
//!
//! ```sh
//! cargo run --example bstarcli
//! ```
//!
//! Prints `I: server replied OK (0)`, `I: server replied OK (1)`, ...; on a
//! failover `W: no response from server, failing over` then `I: connecting
//! to server at tcp://localhost:5002..`; `E: malformed reply from server: X`
//! for a reply that is not the sequence number. Flags (defaults are the
//! original's): `--primary` and `--backup` (the two servers),
//! `--timeout-ms 1000`, `--settle-ms 2000`, `--interval-ms 1000` (the pause
//! after each reply), `--requests N` (stop after N replies; default: run
//! forever).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{zmq, Error, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqOptions};
use tx0mq::{Ctx, DelayedCall, Reactor};

mod pyport;

/// The client: where it is, what it waits for.
struct Client {
    /// Makes the sockets (set once the reactor exists).
    factory: Option<ZmqFactory<Client>>,
    settings: Args,
    /// The two servers, primary first.
    servers: [String; 2],
    /// Which one the socket is connected to.
    server_nbr: usize,
    /// The current REQ socket.
    socket: Option<ZmqConnection<Client>>,
    /// The request being answered.
    sequence: u64,
    /// Fires when the reply is late (the original's `poll(REQUEST_TIMEOUT)`).
    timeout: Option<DelayedCall>,
}

/// A new REQ socket to the current server, closing at once when dropped
/// (as `client.close()` with nothing left to send does), with its reply
/// handler.
fn connect(cx: &mut Ctx<'_, Client>) -> Result<(), Box<dyn std::error::Error>> {
    let factory = cx.state.factory.as_ref().ok_or("no factory")?;
    let endpoint = ZmqEndpoint::connect(&cx.state.servers[cx.state.server_nbr]);
    let options = ZmqOptions::new().linger(Duration::ZERO);
    let socket = ZmqConnection::with_options(factory, zmq::REQ, endpoint, &options)?;
    socket.message_received(|cx, reply| got_reply(&mut cx.ctx(), pyport::first(&reply)));
    cx.state.socket = Some(socket);
    Ok(())
}

/// Sends the current request and starts waiting for its reply.
fn send_request(cx: &mut Ctx<'_, Client>) -> Result<(), Error> {
    if let Some(socket) = &cx.state.socket {
        socket.send(cx.state.sequence.to_string())?;
    }
    wait_for_reply(cx);
    Ok(())
}

/// (Re)starts the reply's timer.
fn wait_for_reply(cx: &mut Ctx<'_, Client>) {
    if let Some(timer) = cx.state.timeout.take() {
        let _ = timer.cancel();
    }
    let timeout = cx.state.settings.timeout;
    cx.state.timeout = Some(cx.reactor.call_later(timeout, fail_over));
}

fn got_reply(cx: &mut Ctx<'_, Client>, reply: &[u8]) -> Result<(), Error> {
    let text = String::from_utf8_lossy(reply);
    if text.trim().parse::<u64>().ok() != Some(cx.state.sequence) {
        // Not ours: keep polling, a full timeout again, as the original does.
        println!("E: malformed reply from server: {text}");
        wait_for_reply(cx);
        return Ok(());
    }
    if let Some(timer) = cx.state.timeout.take() {
        let _ = timer.cancel();
    }
    println!("I: server replied OK ({text})");
    cx.state.sequence += 1;
    if cx.state.settings.requests == Some(cx.state.sequence) {
        if let Some(socket) = cx.state.socket.take() {
            socket.shutdown();
        }
        cx.reactor.stop()?;
        return Ok(());
    }
    let pause = cx.state.settings.interval;
    cx.reactor.call_later(pause, send_request);
    Ok(())
}

/// No reply in time: drop the socket, let the pair settle, try the other server.
fn fail_over(cx: &mut Ctx<'_, Client>) {
    cx.state.timeout = None;
    println!("W: no response from server, failing over");
    if let Some(socket) = cx.state.socket.take() {
        socket.shutdown();
    }
    let settle = cx.state.settings.settle;
    cx.reactor.call_later(settle, |cx| {
        cx.state.server_nbr = (cx.state.server_nbr + 1) % 2;
        println!(
            "I: connecting to server at {}..",
            cx.state.servers[cx.state.server_nbr]
        );
        connect(cx)?;
        Ok::<(), Box<dyn std::error::Error>>(send_request(cx)?)
    });
}

fn run(settings: Args) -> Result<(), Box<dyn std::error::Error>> {
    let servers = [settings.primary.clone(), settings.backup.clone()];
    let done = settings.requests == Some(0);
    let reactor = Reactor::with_state(Client {
        factory: None,
        settings,
        servers,
        server_nbr: 0,
        socket: None,
        sequence: 0,
        timeout: None,
    })?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    reactor.access_state(|client| client.factory = Some(factory.clone()))?;
    if done {
        return Ok(());
    }
    reactor.with_ctx(|cx| {
        connect(cx)?;
        Ok::<(), Box<dyn std::error::Error>>(send_request(cx)?)
    })??;
    reactor.run()?;
    Ok(())
}

/// Binary Star client: fails over between the primary and the backup
/// (zguide's bstarcli.py).
#[derive(Parser)]
struct Args {
    /// The primary server
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5001")]
    primary: String,
    /// The backup server
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5002")]
    backup: String,
    /// How long to wait for each reply, in milliseconds
    #[arg(long = "timeout-ms", value_name = "MS", default_value = "1000", value_parser = pyport::millis)]
    timeout: Duration,
    /// How long to wait before failing over, in milliseconds
    #[arg(long = "settle-ms", value_name = "MS", default_value = "2000", value_parser = pyport::millis)]
    settle: Duration,
    /// The pause after each reply, in milliseconds
    #[arg(long = "interval-ms", value_name = "MS", default_value = "1000", value_parser = pyport::millis)]
    interval: Duration,
    /// Stop after N replies [default: run forever]
    #[arg(long, value_name = "N")]
    requests: Option<u64>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
