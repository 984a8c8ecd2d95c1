//! `server.py`, the server of pyzmq's early device example
//! (`examples/device/`, with `client.py`; Python 2): a queue device
//! (`zmq.device(zmq.QUEUE, clients, workers)`) between a ROUTER (`XREP`)
//! bound to `tcp://127.0.0.1:5555` for clients and a DEALER (`XREQ`) bound
//! to `inproc://workers`, where ten worker threads connect REP sockets;
//! each worker sleeps a second on every request and sends it back. The
//! device blocks forever.
//!
//! The port: the queue is the library's [`Device`] in the main reactor
//! (`Device::of_type(DeviceType::Queue, ...)`), which forwards from the
//! connections' callbacks and returns at once; `reactor.run()` does the
//! waiting. The workers stay threads, as in the original, each with a
//! blocking REP socket of the factory's context (so `inproc://` reaches
//! them), sleeping off the reactor thread.
//!
//! ```sh
//! cargo run --example device_server &
//! cargo run --example device_client
//! ```
//!
//! Prints `Server PID` and runs until Ctrl-C (the original's `Finished`
//! follows a device that never returns). `--frontend` replaces the clients'
//! endpoint, `--workers` the number of worker threads (10), `--delay-ms`
//! their sleep (1000).

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{zmq, Device, DeviceType, ZmqConnection, ZmqEndpoint, ZmqFactory};
use tx0mq::Reactor;

mod pyport;

/// Where the workers connect.
const WORKERS: &str = "inproc://workers";

/// One worker thread: echoes each request after `delay`, until its socket
/// fails (the context ending).
fn routine(socket: impl std::ops::Deref<Target = zmq::Socket>, delay: Duration) {
    loop {
        let message = match socket.recv_multipart(0) {
            Ok(message) => message,
            Err(e) => {
                log::debug!("worker: {e}");
                return;
            }
        };
        std::thread::sleep(delay);
        if let Err(e) = socket.send_multipart(message, 0) {
            log::debug!("worker: {e}");
            return;
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    println!("Server {}", std::process::id());
    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    let workers = ZmqConnection::new(&factory, zmq::DEALER, ZmqEndpoint::bind(WORKERS))?;
    let clients = ZmqConnection::new(&factory, zmq::ROUTER, ZmqEndpoint::bind(args.frontend))?;

    let context = factory.context()?;
    for i in 0..args.workers {
        let socket = context.socket(zmq::REP)?;
        socket.connect(WORKERS)?;
        let delay = args.delay;
        std::thread::Builder::new()
            .name(format!("worker {i}"))
            .spawn(move || routine(socket, delay))?;
    }

    Device::of_type(DeviceType::Queue, &clients, &workers)?;
    reactor.run()?;
    Ok(())
}

/// A queue device in front of worker threads (pyzmq's
/// examples/device/server.py).
#[derive(Parser)]
struct Args {
    /// Endpoint the clients connect to
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://127.0.0.1:5555")]
    frontend: String,
    /// Worker threads
    #[arg(long, value_name = "N", default_value_t = 10)]
    workers: usize,
    /// How long a worker sleeps on each request, in milliseconds
    #[arg(long = "delay-ms", value_name = "MS", value_parser = pyport::millis, default_value = "1000")]
    delay: Duration,
}

fn main() -> ExitCode {
    pyport::main(run)
}
