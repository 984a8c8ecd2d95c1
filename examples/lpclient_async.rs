//! `lpclient.py`, the zguide's Lazy Pirate client (chapter 4, "Client-Side
//! Reliability (Lazy Pirate Pattern)"): a REQ socket connected to
//! `tcp://localhost:5555` sends sequence numbers one by one, polls 2500 ms
//! for each reply, and on silence closes the socket (`LINGER 0`), opens a
//! new one and resends, three tries in all before it logs that the server
//! seems to be offline and exits. Its other half is `lpserver.py`, which
//! answers, then stalls or "crashes" at random.
//!
//! The port: the whole client is one async function run by the reactor.
//!
//! ```text
//! cargo run --example lpclient_async -- [--endpoint tcp://localhost:5555]
//!     [--timeout-ms MS] [--retries N] [--requests N]
//! ```
//!
//! Start the zguide's `lpserver` (any language) on the endpoint, then kill
//! and restart it at random. Output follows the Python version's log lines
//! (`INFO: Sending (b'0')`, `INFO: Server replied OK (b'0')`, `WARNING: No
//! response from server`, `INFO: Reconnecting to server…`, `INFO: Resending
//! (b'3')`, `ERROR: Server seems to be offline, abandoning`), on stdout.
//! Defaults are the original's: a 2500 ms timeout, 3 retries, requests
//! forever (`--requests N` stops after N replies).
//!
//! How it maps onto the original:
//!
//! - `client.poll(REQUEST_TIMEOUT)` then `recv()` is one
//!   `send_msg_with_timeout(request, timeout).await`: the request's Deferred
//!   fails with `ZmqRequestTimeoutError` when nothing came back in time.
//! - The connection is a tx0mq REQ connection (a DEALER that frames each
//!   request with an id and an empty delimiter), which a plain REP server
//!   answers as it would a REQ socket. Closing it and opening a new one on
//!   silence is kept from the original; a late reply to an abandoned request
//!   could not be mistaken for a new one anyway (ids are never reused).
//! - A reply whose body is not the sequence number is reported as malformed
//!   and counted like silence (the original keeps polling; here the
//!   request's one reply has been consumed).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{
    bytes_repr, ZmqEndpoint, ZmqFactory, ZmqOptions, ZmqReqConnection, ZmqRequestTimeoutError,
};
use tx0mq::{Failure, Reactor};

mod pyport;

/// How the client ended.
enum Ending {
    /// `--requests` replies arrived.
    Done,
    /// The server stopped answering.
    Abandoned,
}

/// A fresh connection to the server, closing at once when shut down (the
/// original sets `LINGER 0` before closing).
fn connect(factory: &ZmqFactory, endpoint: &str) -> Result<ZmqReqConnection, Failure> {
    let linger_0 = ZmqOptions::new().linger(Duration::ZERO);
    Ok(ZmqReqConnection::with_options(
        factory,
        ZmqEndpoint::connect(endpoint),
        &linger_0,
    )?)
}

/// The whole client: the original's two nested loops, with `.await` where
/// it polls.
async fn lazy_pirate(factory: ZmqFactory, settings: Args) -> Result<Ending, Failure> {
    println!("INFO: Connecting to server…");
    let mut client = connect(&factory, &settings.endpoint)?;
    let mut sequence: u64 = 0;
    loop {
        if settings.requests == Some(sequence) {
            return Ok(Ending::Done);
        }
        let request = sequence.to_string();
        println!("INFO: Sending ({})", bytes_repr(request.as_bytes()));
        let mut retries_left = settings.retries;
        let mut pending = client.send_msg_with_timeout(request.as_str(), settings.timeout);
        loop {
            match pending.await {
                Ok(reply) if reply.first().is_some_and(|r| r[..] == *request.as_bytes()) => {
                    println!("INFO: Server replied OK ({})", bytes_repr(&reply[0]));
                    break;
                }
                Ok(reply) => {
                    let body = reply.first().map_or_else(|| "[]".into(), |r| bytes_repr(r));
                    println!("ERROR: Malformed reply from server: {body}");
                }
                Err(failure) if failure.is::<ZmqRequestTimeoutError>() => {}
                Err(failure) => return Err(failure),
            }
            retries_left -= 1;
            println!("WARNING: No response from server");
            // The connection is confused: close it and drop it.
            client.shutdown();
            if retries_left == 0 {
                println!("ERROR: Server seems to be offline, abandoning");
                return Ok(Ending::Abandoned);
            }
            println!("INFO: Reconnecting to server…");
            client = connect(&factory, &settings.endpoint)?;
            println!("INFO: Resending ({})", bytes_repr(request.as_bytes()));
            pending = client.send_msg_with_timeout(request.as_str(), settings.timeout);
        }
        sequence += 1;
    }
}

fn run(settings: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    // Runs the reactor until the client gives up or is done, as the
    // original's `sys.exit()` ends it (with status 0 either way).
    match reactor.run_until_complete(lazy_pirate(factory, settings))?? {
        Ending::Done | Ending::Abandoned => Ok(()),
    }
}

/// Lazy Pirate client: retries on silence, then gives up (zguide's
/// lpclient.py).
#[derive(Parser)]
struct Args {
    /// The server
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5555")]
    endpoint: String,
    /// How long to wait for each reply, in milliseconds
    #[arg(long = "timeout-ms", value_name = "MS", default_value = "2500", value_parser = pyport::millis)]
    timeout: Duration,
    /// Attempts per request before giving up
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    retries: u32,
    /// Stop after N replies [default: run forever]
    #[arg(long, value_name = "N")]
    requests: Option<u64>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
