//! Simple request-reply broker: a ROUTER for clients, a DEALER for services,
//! and every message passed across as it is. Port of the zguide's
//! `rrbroker.py` (chapter 2).
//!
//! The original polls both sockets and forwards whichever is ready. Here each
//! socket is a connection whose callback forwards to the other one. The only
//! thing the two callbacks share is each other's socket: connection handles
//! are cheap clones, so each callback keeps one of the other; no `RefCell`,
//! and no reactor state is needed. A request that arrives while no service
//! is connected waits in the backend's outbox (the original would block in
//! `send_multipart`, and with it every client).
//!
//! ```text
//! cargo run --example rrbroker        # binds tcp://*:5559 (clients) and tcp://*:5560 (services)
//! cargo run --example rrbroker -- --frontend ipc:///tmp/frontend --backend ipc:///tmp/backend
//! ```
//!
//! Prints nothing; runs until Ctrl-C.

use std::process::ExitCode;

use tx0mq::connections::{zmq, ZmqConnection, ZmqEndpoint, ZmqFactory};
use tx0mq::Reactor;

mod pyport;
use pyport::Flags;

const USAGE: &str = "usage: rrbroker [--frontend ENDPOINT] [--backend ENDPOINT]
  --frontend  endpoint clients connect to (default tcp://*:5559)
  --backend   endpoint services connect to (default tcp://*:5560)";

fn main() -> ExitCode {
    env_logger::init();
    let spec = [("frontend", None), ("backend", None)];
    let flags = Flags::parse("rrbroker", USAGE, &spec, 0);
    pyport::finish("rrbroker", run(&flags))
}

fn run(flags: &Flags) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // Prepare our sockets.
    let frontend = ZmqEndpoint::bind(flags.string("frontend", "tcp://*:5559"));
    let frontend = ZmqConnection::new(&factory, zmq::ROUTER, frontend)?;
    let backend = ZmqEndpoint::bind(flags.string("backend", "tcp://*:5560"));
    let backend = ZmqConnection::new(&factory, zmq::DEALER, backend)?;

    // Switch messages between sockets.
    let to_backend = backend.clone();
    frontend.message_received(move |_, message| to_backend.send(message));
    let to_frontend = frontend.clone();
    backend.message_received(move |_, message| to_frontend.send(message));

    reactor.run()?;
    Ok(())
}
