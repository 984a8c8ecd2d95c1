//! Multithreaded Hello World server: the reactor proxies requests from clients
//! to a pool of five worker threads.
//!
//! Port of the zguide's `mtserver.py` (chapter 2, "Multithreading with
//! ZeroMQ"). The ROUTER for clients and the DEALER for workers live in the
//! reactor; `zmq.proxy(clients, workers)` is two connections that forward
//! what each receives to the other. The workers are threads, as in the
//! original, each with a plain blocking REP socket on the factory's context,
//! talking to the reactor over `inproc://workers`.
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

use tx0mq::connections::{bytes_repr, zmq, ZmqConnection, ZmqEndpoint, ZmqFactory};
use tx0mq::Reactor;

const USAGE: &str = "usage: mtserver [--endpoint ENDPOINT] [--work-ms MILLISECONDS]";
const URL_WORKER: &str = "inproc://workers";

struct Args {
    endpoint: String,
    work: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        endpoint: "tcp://*:5555".to_string(),
        work: Duration::from_secs(1),
    };
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        let mut value = || argv.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--endpoint" => args.endpoint = value()?,
            "--work-ms" => {
                let ms = value()?.parse().map_err(|e| format!("--work-ms: {e}"))?;
                args.work = Duration::from_millis(ms);
            }
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    Ok(args)
}

/// A worker thread: blocking REP socket, as in the original.
fn worker_routine(context: &zmq::Context, work: Duration) -> zmq::Result<()> {
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

/// `zmq.proxy(frontend, backend)`: each side forwards what it receives to the other.
fn proxy<S>(frontend: &ZmqConnection<S>, backend: &ZmqConnection<S>) {
    let to_backend = backend.clone();
    frontend.message_received(move |_, message| to_backend.send(message));
    let to_frontend = frontend.clone();
    backend.message_received(move |_, message| to_frontend.send(message));
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

fn main() -> ExitCode {
    env_logger::init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("mtserver: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mtserver: {e}");
            ExitCode::FAILURE
        }
    }
}
