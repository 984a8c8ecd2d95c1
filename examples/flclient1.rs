//! `flclient1.py`, the zguide's Freelance client, model one (chapter 4,
//! "Brokerless Reliability (Freelance Pattern)", "Model One: Simple Retry
//! and Failover"): asks an echo service (`flserver1`) for `Hello world`
//! through a fresh REQ socket per try, waiting 1000 ms for each answer. Given
//! one endpoint it tries it up to three times; given several, each once, in
//! order. It stops at the first answer.
//!
//! The port: each try is a raw REQ connection (`LINGER 0`) whose reply
//! callback reports success, raced by a `DelayedCall` that shuts it down
//! and starts the next try: the original's `poll(REQUEST_TIMEOUT)`.
//!
//! ```sh
//! cargo run --example flserver1 -- tcp://*:5555 &
//! cargo run --example flclient1 -- tcp://localhost:5555
//! ```
//!
//! Prints `I: Trying echo service at tcp://localhost:5555...` per try,
//! `W: No response from tcp://localhost:5555, retrying` (one endpoint) or
//! `W: No response from tcp://localhost:5555` (several) per silent one, and
//! `Service is running OK` on an answer. Without endpoints, `I: syntax:
//! flclient1 <endpoint> ...`. `--timeout-ms 1000` and `--retries 3` are the
//! original's constants.

use std::collections::VecDeque;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{zmq, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqOptions};
use tx0mq::{Ctx, Reactor};

mod pyport;

/// The request every try sends.
const REQUEST: &str = "Hello world";

/// The tries still to make.
struct Tries {
    factory: Option<ZmqFactory<Tries>>,
    endpoints: VecDeque<String>,
    /// Whether one endpoint is retried (the warning says so).
    retrying: bool,
    timeout: Duration,
    /// Whether a reply came.
    answered: bool,
}

/// Tries the next endpoint, or stops when none is left.
fn try_next(cx: &mut Ctx<'_, Tries>) -> Result<(), Box<dyn std::error::Error>> {
    let Some(endpoint) = cx.state.endpoints.pop_front() else {
        cx.reactor.stop()?;
        return Ok(());
    };
    println!("I: Trying echo service at {endpoint}...");
    let factory = cx.state.factory.as_ref().ok_or("no factory")?;
    let options = ZmqOptions::new().linger(Duration::ZERO); // Terminate early
    let client =
        ZmqConnection::with_options(factory, zmq::REQ, ZmqEndpoint::connect(&endpoint), &options)?;
    client.send(REQUEST)?;
    let late = client.clone();
    let timer = cx.reactor.call_later(cx.state.timeout, move |cx| {
        late.shutdown();
        if cx.state.retrying {
            println!("W: No response from {endpoint}, retrying");
        } else {
            println!("W: No response from {endpoint}");
        }
        try_next(cx)
    });
    client.message_received(move |cx, _reply| {
        let _ = timer.cancel();
        cx.conn.shutdown();
        cx.state.answered = true;
        cx.reactor.stop()
    });
    Ok(())
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let endpoints: VecDeque<String> = match &args.endpoints[..] {
        [] => {
            println!("I: syntax: flclient1 <endpoint> ...");
            return Ok(());
        }
        // For one endpoint, we retry N times
        [one] => std::iter::repeat_n(one.clone(), args.retries as usize).collect(),
        // For multiple endpoints, try each at most once
        many => many.iter().cloned().collect(),
    };
    let reactor = Reactor::with_state(Tries {
        factory: None,
        endpoints,
        retrying: args.endpoints.len() == 1,
        timeout: args.timeout,
        answered: false,
    })?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    reactor.access_state(|tries| tries.factory = Some(factory.clone()))?;
    reactor.with_ctx(try_next)??;
    reactor.run()?;
    if reactor.access_state(|tries| tries.answered)? {
        println!("Service is running OK");
    }
    Ok(())
}

/// Freelance client, model one: tries each server in turn, or one server
/// several times (zguide's flclient1.py).
#[derive(Parser)]
struct Args {
    /// The echo services, e.g. tcp://localhost:5555
    endpoints: Vec<String>,
    /// How long to wait for each answer, in milliseconds
    #[arg(long = "timeout-ms", value_name = "MS", default_value = "1000", value_parser = pyport::millis)]
    timeout: Duration,
    /// Tries of a single endpoint
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    retries: u32,
}

fn main() -> ExitCode {
    pyport::main(run)
}
