//! `lpclient.py`, the zguide's Lazy Pirate client (chapter 4, "Client-Side
//! Reliability (Lazy Pirate Pattern)"): a REQ socket connected to
//! `tcp://localhost:5555` sends the sequence numbers 0, 1, 2... one at a
//! time and polls 2500 ms for each reply. On silence it closes the socket
//! (`LINGER 0`), opens a new one and sends the request again, three tries in
//! all, after which it logs that the server seems to be offline and exits.
//! Its other half is `lpserver` (or a Simple or Paranoid Pirate queue on the
//! same endpoint), which answers, stalls or "crashes" at random.
//!
//! The port, in callbacks (`lpclient_async` is the same client as one async
//! function): the REQ socket is a raw `ZmqConnection` of type REQ, and the
//! poll with a timeout is a `DelayedCall` started with each send. A reply
//! cancels it and sends the next request; when it fires first, the
//! connection is shut down and replaced, and the request goes out again on
//! the new one. Everything the client knows (the sequence number, the tries
//! left, the connection, the timer) is the reactor's state.
//!
//! ```sh
//! cargo run --example lpserver &
//! cargo run --example lpclient
//! ```
//!
//! Prints the original's log lines, on stdout: `INFO: Connecting to
//! server…`, `INFO: Sending (b'0')`, `INFO: Server replied OK (b'0')`,
//! `WARNING: No response from server`, `INFO: Reconnecting to server…`,
//! `INFO: Resending (b'3')`, and at last `ERROR: Server seems to be offline,
//! abandoning` (exit status 0, as `sys.exit()`). Flags (defaults are the
//! original's): `--endpoint` (`tcp://localhost:5555`), `--timeout-ms` (2500),
//! `--retries` (3), and `--requests N` to stop after N replies.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{
    bytes_repr, zmq, Multipart, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqOptions,
};
use tx0mq::{Ctx, DelayedCall, Reactor};

mod pyport;

/// What a callback returns: an error is logged by the reactor.
type Outcome<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// The client's state, lent by the reactor to each callback.
struct Client {
    settings: Args,
    factory: Option<ZmqFactory<Client>>,
    /// The REQ connection in use (a new one after each silence).
    conn: Option<ZmqConnection<Client>>,
    /// The number of the request in flight.
    sequence: u64,
    /// Tries left for it, this one included.
    retries_left: u32,
    /// The poll's timeout: fires when no reply came in time.
    timer: Option<DelayedCall>,
}

impl Client {
    fn request(&self) -> String {
        self.sequence.to_string()
    }
}

/// A fresh REQ connection to the server, closing at once when shut down
/// (the original sets `LINGER 0` before closing).
fn connect(cx: &mut Ctx<'_, Client>) -> Outcome<ZmqConnection<Client>> {
    let factory = cx.state.factory.clone().ok_or("the factory is gone")?;
    let linger_0 = ZmqOptions::new().linger(Duration::ZERO);
    let endpoint = ZmqEndpoint::connect(&cx.state.settings.endpoint);
    let conn = ZmqConnection::with_options(&factory, zmq::REQ, endpoint, &linger_0)?;
    conn.message_received(|cx, reply| reply_received(&mut cx.ctx(), &reply));
    cx.state.conn = Some(conn.clone());
    Ok(conn)
}

/// Sends the current request on the current connection and starts the
/// poll's timeout.
fn send_request(cx: &mut Ctx<'_, Client>) -> Outcome {
    let request = cx.state.request();
    if let Some(conn) = &cx.state.conn {
        conn.send(request.as_str())?;
    }
    let timeout = cx.state.settings.timeout;
    cx.state.timer = Some(cx.reactor.call_later(timeout, no_reply));
    Ok(())
}

/// `logging.info("Sending (%s)", request)`, then the request.
fn send_next(cx: &mut Ctx<'_, Client>) -> Outcome {
    if cx.state.settings.requests == Some(cx.state.sequence) {
        return Ok(cx.reactor.stop()?);
    }
    println!(
        "INFO: Sending ({})",
        bytes_repr(cx.state.request().as_bytes())
    );
    cx.state.retries_left = cx.state.settings.retries;
    send_request(cx)
}

/// The poll returned a reply: check it, then send the next request.
fn reply_received(cx: &mut Ctx<'_, Client>, reply: &Multipart) -> Outcome {
    let body = pyport::first(reply);
    let number = std::str::from_utf8(body)
        .ok()
        .and_then(|text| text.trim().parse::<u64>().ok());
    if number != Some(cx.state.sequence) {
        println!("ERROR: Malformed reply from server: {}", bytes_repr(body));
        // Back to polling, for a whole timeout again.
        if let Some(timer) = &cx.state.timer {
            timer.reset(cx.state.settings.timeout)?;
        }
        return Ok(());
    }
    println!("INFO: Server replied OK ({})", bytes_repr(body));
    if let Some(timer) = cx.state.timer.take() {
        let _ = timer.cancel();
    }
    cx.state.sequence += 1;
    send_next(cx)
}

/// The poll timed out: drop the connection, and try again on a new one
/// while tries are left.
fn no_reply(cx: &mut Ctx<'_, Client>) -> Outcome {
    cx.state.timer = None;
    cx.state.retries_left = cx.state.retries_left.saturating_sub(1);
    println!("WARNING: No response from server");
    // Socket is confused. Close and remove it.
    if let Some(conn) = cx.state.conn.take() {
        conn.shutdown();
    }
    if cx.state.retries_left == 0 {
        println!("ERROR: Server seems to be offline, abandoning");
        return Ok(cx.reactor.stop()?);
    }
    println!("INFO: Reconnecting to server…");
    connect(cx)?;
    println!(
        "INFO: Resending ({})",
        bytes_repr(cx.state.request().as_bytes())
    );
    send_request(cx)
}

fn run(settings: Args) -> Result<(), Box<dyn std::error::Error>> {
    let retries = settings.retries;
    let reactor = Reactor::with_state(Client {
        settings,
        factory: None,
        conn: None,
        sequence: 0,
        retries_left: retries,
        timer: None,
    })?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let for_state = factory.clone();
    reactor.access_state(move |client| client.factory = Some(for_state))?;

    println!("INFO: Connecting to server…");
    reactor.with_ctx(connect)??;
    reactor.call_when_running(send_next);
    reactor.run()?;
    // The factory's handle in the state would keep it (and the reactor) alive.
    reactor.access_state(|client| client.factory = None)?;
    Ok(())
}

/// Lazy Pirate client, in callbacks: retries on silence, then gives up
/// (zguide's lpclient.py).
#[derive(Parser)]
struct Args {
    /// The server
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5555")]
    endpoint: String,
    /// How long to wait for each reply, in milliseconds
    #[arg(long = "timeout-ms", value_name = "MS", default_value = "2500", value_parser = pyport::millis)]
    timeout: Duration,
    /// Tries per request before giving up
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    retries: u32,
    /// Stop after N replies [default: run forever]
    #[arg(long, value_name = "N")]
    requests: Option<u64>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
