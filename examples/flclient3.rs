//! `flclient3.py`, the zguide's Freelance client, model three (chapter 4,
//! "Brokerless Reliability (Freelance Pattern)", "Model Three: Complex and
//! Nasty"): through the Freelance client API (`flcliapi.py`) it connects to
//! three servers, `tcp://localhost:5555`, `5556` and `5557` (`flserver3`),
//! makes 10,000 requests one after the other and prints the average round
//! trip; a request no server answers ends the run.
//!
//! The port: `examples/flcliapi/mod.rs` is `flcliapi.py` with its agent in
//! the reactor (see there). Each request's Deferred, when it fires, makes
//! the next request. The original's 100 ms sleep after each `connect` (to
//! let the connection come up) delays the first request.
//!
//! ```sh
//! cargo run --example flserver3 &
//! cargo run --example flclient3
//! ```
//!
//! Prints `I: connecting to tcp://localhost:5555...` per server, then
//! `Average round trip cost: 180 usec`, or `E: name service not available,
//! aborting`. The servers are the arguments (default: the original's three);
//! `--requests 10000` is the original's count.
//!
//! As in the original, requests go to the first server believed alive, and
//! a server is believed dead only after 6 s of silence while a request fails
//! after 3 s: with the first server down from the start, the first request
//! fails. Servers down further along the list are never asked.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use tx0mq::connections::ZmqFactory;
use tx0mq::{Ctx, Reactor};

mod flcliapi;
mod pyport;

use flcliapi::FreelanceClient;

/// The request the original makes, a name to resolve.
const REQUEST: &[u8] = b"random name";

/// Makes the next request; `left` more are to come after it.
fn request(
    cx: &mut Ctx<'_, ()>,
    client: FreelanceClient<()>,
    left: u64,
    start: Instant,
    total: u64,
) {
    let stopper = cx.reactor.clone();
    let again = client.clone();
    let reply = match client.request(vec![REQUEST.to_vec()]) {
        Ok(reply) => reply,
        Err(e) => {
            log::error!("request failed: {e}");
            let _ = stopper.stop();
            return;
        }
    };
    reply.map(move |reply| {
        if reply.is_none() {
            println!("E: name service not available, aborting");
            let _ = stopper.stop();
        } else if left == 0 {
            let average = 1e6 * start.elapsed().as_secs_f64() / total as f64;
            println!("Average round trip cost: {} usec", average as u64);
            let _ = stopper.stop();
        } else {
            // The next request, on the next pass (not inside this reply's call).
            stopper.call_later(Duration::ZERO, move |cx| {
                request(cx, again, left - 1, start, total);
            });
        }
    });
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    // Create new freelance client object
    let client = FreelanceClient::new(&reactor, &factory)?;
    // Connect to several endpoints
    for endpoint in &args.endpoints {
        client.connect(endpoint)?;
    }
    if args.requests == 0 {
        return Ok(());
    }
    // Allow connections to come up (the original sleeps 100 ms per connect).
    let settle = Duration::from_millis(100) * u32::try_from(args.endpoints.len()).unwrap_or(1);
    let total = args.requests;
    reactor.call_later(settle, move |cx| {
        // Send a bunch of name resolution 'requests', measure time
        request(cx, client, total - 1, Instant::now(), total);
    });
    reactor.run()?;
    Ok(())
}

/// Freelance client, model three: requests through the Freelance API, with
/// failover and pings (zguide's flclient3.py).
#[derive(Parser)]
struct Args {
    /// The servers
    #[arg(
        value_name = "ENDPOINT",
        default_values = ["tcp://localhost:5555", "tcp://localhost:5556", "tcp://localhost:5557"]
    )]
    endpoints: Vec<String>,
    /// How many requests to make
    #[arg(long, value_name = "N", default_value_t = 10000)]
    requests: u64,
}

fn main() -> ExitCode {
    pyport::main(run)
}
