//! `msgqueue.py`, the zguide's message queuing broker (chapter 2, "ZeroMQ's
//! Built-In Proxy Function"): `rrbroker.py` written as one call,
//! `zmq.proxy(frontend, backend)`, between a ROUTER bound to `tcp://*:5559`
//! for clients and a DEALER bound to `tcp://*:5560` for services; the proxy
//! blocks forever. Its other halves are `rrclient.py` and `rrworker.py` (or
//! this crate's `rrclient` and `rrworker`).
//!
//! The port: blocking the reactor thread is not allowed, so [`proxy`] below
//! is the reactor's version of `zmq.proxy`: it makes each socket forward what
//! it receives to the other, and returns at once; `reactor.run()` then does
//! the waiting.
//!
//! ```text
//! cargo run --example msgqueue        # binds tcp://*:5559 (clients) and tcp://*:5560 (services)
//! cargo run --example msgqueue -- --frontend ipc:///tmp/frontend --backend ipc:///tmp/backend
//! ```
//!
//! Prints nothing; runs until Ctrl-C.

use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{proxy, zmq, ZmqConnection, ZmqEndpoint, ZmqFactory};
use tx0mq::Reactor;

mod pyport;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // Socket facing clients.
    let frontend = ZmqEndpoint::bind(args.frontend);
    let frontend = ZmqConnection::new(&factory, zmq::ROUTER, frontend)?;
    // Socket facing services.
    let backend = ZmqEndpoint::bind(args.backend);
    let backend = ZmqConnection::new(&factory, zmq::DEALER, backend)?;

    proxy(&frontend, &backend);

    reactor.run()?;
    Ok(())
}

/// Message queuing broker: a proxy between clients and services (zguide's
/// msgqueue.py).
#[derive(Parser)]
struct Args {
    /// Endpoint clients connect to
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:5559")]
    frontend: String,
    /// Endpoint services connect to
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:5560")]
    backend: String,
}

fn main() -> ExitCode {
    pyport::main(run)
}
