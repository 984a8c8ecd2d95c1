//! `rrbroker.py`, the zguide's simple request-reply broker (chapter 2,
//! "Shared Queue (DEALER and ROUTER sockets)"): a ROUTER bound to
//! `tcp://*:5559` for clients and a DEALER bound to `tcp://*:5560` for
//! services, polled together; every message either receives is passed, all
//! its frames, to the other. Its other halves are `rrclient.py` and
//! `rrworker.py` (or this crate's `rrclient` and `rrworker`).
//!
//! The port: each socket is a connection whose callback forwards to the other
//! one. The only thing the two callbacks share is each other's socket:
//! connection handles are cheap clones, so each callback keeps one of the
//! other; no `RefCell`, and no reactor state is needed. A request that
//! arrives while no service is connected waits in the backend's outbox (the
//! original would block in `send_multipart`, and with it every client).
//!
//! ```text
//! cargo run --example rrbroker        # binds tcp://*:5559 (clients) and tcp://*:5560 (services)
//! cargo run --example rrbroker -- --frontend ipc:///tmp/frontend --backend ipc:///tmp/backend
//! ```
//!
//! Prints nothing; runs until Ctrl-C.

use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::{zmq, ZmqConnection, ZmqEndpoint, ZmqFactory};
use tx0mq::Reactor;

mod pyport;

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // Prepare our sockets.
    let frontend = ZmqEndpoint::bind(args.frontend);
    let frontend = ZmqConnection::new(&factory, zmq::ROUTER, frontend)?;
    let backend = ZmqEndpoint::bind(args.backend);
    let backend = ZmqConnection::new(&factory, zmq::DEALER, backend)?;

    // Switch messages between sockets.
    let to_backend = backend.clone();
    frontend.message_received(move |_, message| to_backend.send(message));
    let to_frontend = frontend.clone();
    backend.message_received(move |_, message| to_frontend.send(message));

    reactor.run()?;
    Ok(())
}

/// Request-reply broker: passes messages between clients and services
/// (zguide's rrbroker.py).
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
