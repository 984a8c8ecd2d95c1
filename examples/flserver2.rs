//! `flserver2.py`, the zguide's Freelance server, model two (chapter 4,
//! "Brokerless Reliability (Freelance Pattern)", "Model Two: Brutal Shotgun
//! Massacre"): a REP socket bound to the endpoint given as its argument
//! answers each request, `[sequence, body]`, with `[sequence, "OK"]`. Its
//! client is `flclient2`, which sends each request to every server.
//!
//! The port: the REP side is a `ZmqRepConnection` (a ROUTER underneath)
//! answering in its callback. A request that is not two frames is logged and
//! dropped where the original's `assert` would end the server.
//!
//! ```sh
//! cargo run --example flserver2 -- tcp://*:5555
//! ```
//!
//! Prints `I: Service is ready at tcp://*:5555`; without an endpoint,
//! `I: Syntax: flserver2 <endpoint>` (and exits 0, as the original does).

use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqRepConnection};
use tx0mq::Reactor;

mod pyport;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let Some(endpoint) = args.endpoint else {
        println!("I: Syntax: flserver2 <endpoint>");
        return Ok(());
    };
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let server = ZmqRepConnection::new(&factory, ZmqEndpoint::bind(&endpoint))?;
    println!("I: Service is ready at {endpoint}");
    server.got_message(|cx, id, request| {
        // Fail nastily if run against wrong client: here, drop the request.
        let [sequence, _body] = &request[..] else {
            log::warn!("dropped a request of {} frame(s), not 2", request.len());
            return Ok(());
        };
        cx.conn.reply(&id, [&sequence[..], b"OK"])
    });
    reactor.run()?;
    Ok(())
}

/// Freelance server, model two: answers `[sequence, body]` with
/// `[sequence, "OK"]` (zguide's flserver2.py).
#[derive(Parser)]
struct Args {
    /// Where to bind, e.g. tcp://*:5555
    endpoint: Option<String>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
