//! `mtserver.py`, the zguide's multithreaded Hello World server (chapter 2,
//! "Multithreading with ZeroMQ"): a ROUTER bound to `tcp://*:5555` for
//! clients and a DEALER bound to `inproc://workers`, joined by
//! `zmq.proxy`, and five worker threads, each with a REP socket that prints
//! `Received request: [ %s ]`, works for a second and answers `World`. Its
//! other half is `hwclient.py` (or this crate's `hwclient`).
//!
//! The port: the ROUTER and the DEALER live in the reactor; `zmq.proxy` is
//! two connections that forward what each receives to the other. The
//! workers are threads, as in the original, each with a plain blocking REP
//! socket on the factory's context, talking to the reactor over
//! `inproc://workers`.
//!
//! ```sh
//! cargo run --example mtserver
//! cargo run --example hwclient        # or the Python hwclient.py
//! ```
//!
//! Each worker prints `Received request: [ b'Hello' ]`, works for a second,
//! and answers `World`. Flags: `--endpoint` (default the original's
//! `tcp://*:5555`), `--work-ms` (the work's duration, default 1000).

use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{
    bytes_repr, proxy, zmq, ZmqConnection, ZmqContext, ZmqEndpoint, ZmqFactory,
};
use tx0mq::Reactor;

mod pyport;

const URL_WORKER: &str = "inproc://workers";

/// A worker thread: blocking REP socket, as in the original.
fn worker_routine(context: &ZmqContext, work: Duration) -> zmq::Result<()> {
    // Socket to talk to dispatcher
    let socket = context.socket(zmq::REP)?;
    socket.connect(URL_WORKER)?;
    loop {
        let request = socket.recv_bytes(0)?;
        println!("Received request: [ {} ]", bytes_repr(&request));
        // Do some 'work'
        thread::sleep(work);
        // Send reply back to client
        socket.send("World", 0)?;
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // Socket to talk to clients
    let clients = ZmqConnection::new(&factory, zmq::ROUTER, ZmqEndpoint::bind(&args.endpoint))?;
    // Socket to talk to workers
    let workers = ZmqConnection::new(&factory, zmq::DEALER, ZmqEndpoint::bind(URL_WORKER))?;

    // Launch pool of worker threads
    for _ in 0..5 {
        let context = factory.context()?;
        let work = args.work;
        thread::spawn(move || {
            if let Err(e) = worker_routine(&context, work) {
                log::error!("worker: {e}");
            }
        });
    }

    proxy(&clients, &workers);
    reactor.run()?;
    Ok(())
}

/// Hello World server with a pool of worker threads (zguide's mtserver.py).
#[derive(Parser)]
struct Args {
    /// Endpoint clients connect to
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:5555")]
    endpoint: String,
    /// Milliseconds each request's "work" takes
    #[arg(long = "work-ms", default_value = "1000", value_name = "MS", value_parser = pyport::millis)]
    work: Duration,
}

fn main() -> ExitCode {
    pyport::main(run)
}
