//! `flclient2.py`, the zguide's Freelance client, model two (chapter 4,
//! "Brokerless Reliability (Freelance Pattern)", "Model Two: Brutal Shotgun
//! Massacre"): one DEALER socket connected to every server given as an
//! argument (`flserver2`). Each request, `["", sequence, "random name"]`,
//! is sent once per server (the DEALER deals one copy to each); the first
//! reply carrying the request's sequence number answers it, later copies
//! are dropped. A request with no answer within 2500 ms ends the run. It
//! makes 10,000 requests and prints the average round trip.
//!
//! The port: the DEALER is a raw connection whose callback matches replies
//! to the current sequence number and sends the next request; the
//! original's polls until a deadline are one `DelayedCall` per request.
//!
//! ```sh
//! cargo run --example flserver2 -- tcp://*:5555 &
//! cargo run --example flserver2 -- tcp://*:5556 &
//! cargo run --example flclient2 -- tcp://localhost:5555 tcp://localhost:5556
//! ```
//!
//! Prints `I: Connected to tcp://localhost:5555` per server, then `Average
//! round trip cost: 123 usec`; `E: Name service not available, aborting`
//! before it when a request times out. Without endpoints, `I: Usage:
//! flclient2 <endpoint> ...`. `--timeout-ms 2500` and `--requests 10000`
//! are the original's constants.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use tx0mq::connections::{zmq, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqOptions};
use tx0mq::{Ctx, DelayedCall, Reactor};

mod pyport;

/// The client: the DEALER, how many servers it reaches, the request.
struct FlClient {
    socket: Option<ZmqConnection<FlClient>>,
    servers: usize,
    sequence: u64,
    /// Requests still to make after the current one.
    remaining: u64,
    timeout: Duration,
    /// Fires when the current request has had no answer in time.
    deadline: Option<DelayedCall>,
}

/// Blasts the next request to every server and starts its deadline.
fn request(cx: &mut Ctx<'_, FlClient>) -> Result<(), Box<dyn std::error::Error>> {
    // Prefix request with sequence number and empty envelope
    cx.state.sequence += 1;
    let sequence = cx.state.sequence.to_string();
    let socket = cx.state.socket.as_ref().ok_or("no socket")?;
    // Blast the request to all connected servers
    for _ in 0..cx.state.servers {
        socket.send(["", sequence.as_str(), "random name"])?;
    }
    cx.state.deadline = Some(cx.reactor.call_later(cx.state.timeout, |cx| {
        cx.state.deadline = None;
        println!("E: Name service not available, aborting");
        cx.reactor.stop()
    }));
    Ok(())
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    if args.endpoints.is_empty() {
        println!("I: Usage: flclient2 <endpoint> ...");
        return Ok(());
    }
    let reactor = Reactor::with_state(FlClient {
        socket: None,
        servers: 0,
        sequence: 0,
        remaining: args.requests,
        timeout: args.timeout,
        deadline: None,
    })?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let options = ZmqOptions::new().linger(Duration::ZERO); // Terminate early
    let socket = ZmqConnection::with_options(&factory, zmq::DEALER, None, &options)?;
    for endpoint in &args.endpoints {
        socket.add_endpoints(ZmqEndpoint::connect(endpoint))?;
        println!("I: Connected to {endpoint}");
    }
    // A reply: the one we wait for answers the request; others are late
    // copies of earlier ones.
    socket.message_received(|cx, reply| {
        let [_, sequence, _] = &reply[..] else {
            log::warn!("dropped a reply of {} frame(s), not 3", reply.len());
            return Ok(());
        };
        let ours = std::str::from_utf8(sequence)
            .ok()
            .and_then(|s| s.parse().ok());
        if ours != Some(cx.state.sequence) || cx.state.deadline.is_none() {
            return Ok(());
        }
        if let Some(deadline) = cx.state.deadline.take() {
            let _ = deadline.cancel();
        }
        if cx.state.remaining == 0 {
            cx.reactor.stop()?;
            return Ok(());
        }
        cx.state.remaining -= 1;
        request(&mut cx.ctx())
    });
    let sent = reactor.access_state(|client| {
        client.socket = Some(socket.clone());
        client.servers = args.endpoints.len();
        client.remaining = client.remaining.saturating_sub(1);
        args.requests > 0
    })?;

    let start = Instant::now();
    if sent {
        reactor.with_ctx(request)??;
        reactor.run()?;
    }
    let requests = args.requests.max(1);
    let average = start.elapsed().as_micros() / u128::from(requests);
    println!("Average round trip cost: {average} usec");
    socket.shutdown();
    Ok(())
}

/// Freelance client, model two: sends each request to every server, takes
/// the first answer (zguide's flclient2.py).
#[derive(Parser)]
struct Args {
    /// The servers, e.g. tcp://localhost:5555
    endpoints: Vec<String>,
    /// How long to wait for each answer, in milliseconds
    #[arg(long = "timeout-ms", value_name = "MS", default_value = "2500", value_parser = pyport::millis)]
    timeout: Duration,
    /// How many requests to make
    #[arg(long, value_name = "N", default_value_t = 10000)]
    requests: u64,
}

fn main() -> ExitCode {
    pyport::main(run)
}
