//! `flserver1.py`, the zguide's Freelance server, model one (chapter 4,
//! "Brokerless Reliability (Freelance Pattern)", "Model One: Simple Retry
//! and Failover"): a trivial echo service on a REP socket bound to the
//! endpoint given as its argument. Its client is `flclient1`.
//!
//! The port: the REP side is a `ZmqRepConnection` (a ROUTER underneath, as
//! in txZMQ) whose callback answers each request with the request itself;
//! the original's receive loop is the reactor's.
//!
//! ```sh
//! cargo run --example flserver1 -- tcp://*:5555
//! ```
//!
//! Prints `I: Echo service is ready at tcp://*:5555`; without an endpoint,
//! `I: Syntax: flserver1 <endpoint>` (and exits 0, as the original does).

use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqRepConnection};
use tx0mq::Reactor;

mod pyport;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let Some(endpoint) = args.endpoint else {
        println!("I: Syntax: flserver1 <endpoint>");
        return Ok(());
    };
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let server = ZmqRepConnection::new(&factory, ZmqEndpoint::bind(&endpoint))?;
    println!("I: Echo service is ready at {endpoint}");
    server.got_message(|cx, id, message| cx.conn.reply(&id, message));
    reactor.run()?;
    Ok(())
}

/// Freelance server, model one: an echo service (zguide's flserver1.py).
#[derive(Parser)]
struct Args {
    /// Where to bind, e.g. tcp://*:5555
    endpoint: Option<String>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
