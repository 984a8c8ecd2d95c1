//! Lazy Pirate client (zguide chapter 4, `lpclient`), written as one async
//! function run by the reactor: send a request, await the reply with a
//! timeout, and on silence throw the connection away, open a new one and
//! resend, a few times, before giving up.
//!
//! ```text
//! cargo run --example lpclient_async -- [--endpoint tcp://localhost:5555]
//!     [--timeout MS] [--retries N] [--requests N]
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

use tx0mq::connections::{
    bytes_repr, ZmqEndpoint, ZmqFactory, ZmqOptions, ZmqReqConnection, ZmqRequestTimeoutError,
};
use tx0mq::{Failure, Reactor};

const USAGE: &str = "usage: lpclient_async [options]
  --endpoint ENDPOINT  the server (default tcp://localhost:5555)
  --timeout MS         how long to wait for each reply (default 2500)
  --retries N          attempts per request before giving up (default 3)
  --requests N         stop after N replies (default: run forever)";

struct Settings {
    endpoint: String,
    timeout: Duration,
    retries: u32,
    requests: Option<u64>,
}

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
async fn lazy_pirate(factory: ZmqFactory, settings: Settings) -> Result<Ending, Failure> {
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

fn parse_args() -> Result<Settings, String> {
    let mut settings = Settings {
        endpoint: "tcp://localhost:5555".to_string(),
        timeout: Duration::from_millis(2500),
        retries: 3,
        requests: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let (name, value) = match arg.split_once('=') {
            Some((name, value)) => (name.to_string(), value.to_string()),
            None => {
                let value = args.next().ok_or(format!("{arg} needs a value"))?;
                (arg, value)
            }
        };
        let number = |what: &str| {
            value
                .parse::<u64>()
                .map_err(|e| format!("{what}: {value:?} is not a number ({e})"))
        };
        match name.as_str() {
            "--endpoint" => settings.endpoint = value.clone(),
            "--timeout" => settings.timeout = Duration::from_millis(number("--timeout")?),
            "--retries" => {
                settings.retries = u32::try_from(number("--retries")?.max(1))
                    .map_err(|_| "--retries: too large".to_string())?;
            }
            "--requests" => settings.requests = Some(number("--requests")?),
            _ => return Err(format!("unknown option {name}")),
        }
    }
    Ok(settings)
}

fn main() -> ExitCode {
    env_logger::init();
    let settings = match parse_args() {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("lpclient_async: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lpclient_async: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    // Runs the reactor until the client gives up or is done, as the
    // original's `sys.exit()` ends it (with status 0 either way).
    match reactor.run_until_complete(lazy_pirate(factory, settings))?? {
        Ending::Done | Ending::Abandoned => Ok(()),
    }
}
