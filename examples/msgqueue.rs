//! Simple message queuing broker: the same as `rrbroker`, written as a call
//! to a proxy between the two sockets. Port of the zguide's `msgqueue.py`
//! (chapter 2).
//!
//! The original hands both sockets to `zmq.proxy`, which blocks forever.
//! Blocking the reactor thread is not allowed, so [`proxy`] below is the
//! reactor's version of it: it makes each socket forward what it receives to
//! the other, and returns at once; `reactor.run()` then does the waiting.
//!
//! ```text
//! cargo run --example msgqueue        # binds tcp://*:5559 (clients) and tcp://*:5560 (services)
//! cargo run --example msgqueue -- --frontend ipc:///tmp/frontend --backend ipc:///tmp/backend
//! ```
//!
//! Prints nothing; runs until Ctrl-C.

use std::process::ExitCode;

use tx0mq::connections::{zmq, ZmqConnection, ZmqEndpoint, ZmqFactory};
use tx0mq::Reactor;

mod pyport;
use pyport::Flags;

const USAGE: &str = "usage: msgqueue [--frontend ENDPOINT] [--backend ENDPOINT]
  --frontend  endpoint clients connect to (default tcp://*:5559)
  --backend   endpoint services connect to (default tcp://*:5560)";

fn main() -> ExitCode {
    env_logger::init();
    let spec = [("frontend", None), ("backend", None)];
    let flags = Flags::parse("msgqueue", USAGE, &spec, 0);
    pyport::finish("msgqueue", run(&flags))
}

fn run(flags: &Flags) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // Socket facing clients.
    let frontend = ZmqEndpoint::bind(flags.string("frontend", "tcp://*:5559"));
    let frontend = ZmqConnection::new(&factory, zmq::ROUTER, frontend)?;
    // Socket facing services.
    let backend = ZmqEndpoint::bind(flags.string("backend", "tcp://*:5560"));
    let backend = ZmqConnection::new(&factory, zmq::DEALER, backend)?;

    proxy(&frontend, &backend);

    reactor.run()?;
    Ok(())
}

/// `zmq.proxy(frontend, backend)` for the reactor: every message either
/// socket receives is sent, whole, on the other one.
fn proxy(frontend: &ZmqConnection, backend: &ZmqConnection) {
    for (from, to) in [(frontend, backend), (backend, frontend)] {
        let to = to.clone();
        from.message_received(move |_, message| to.send(message));
    }
}
