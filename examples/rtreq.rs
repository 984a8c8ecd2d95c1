//! `rtreq.py`, the zguide's ROUTER-to-REQ example (chapter 3, "ROUTER
//! Broker and REQ Workers"): a ROUTER bound to `tcp://*:5671` and ten worker
//! threads with REQ sockets and random printable identities. Each worker
//! says `ready`, gets a workload, works for a random moment, and says
//! `ready` again; the ROUTER answers whichever worker asked with a workload,
//! a hundred times, then `END` to each, and each worker prints `Processed: N
//! tasks`.
//!
//! The port: the workers are threads with blocking REQ sockets, as in the
//! original. The ROUTER is a connection in the reactor: each `ready` gets
//! the next workload, the last ten get `END`. When all workers have
//! reported, the program exits.
//!
//! ```sh
//! cargo run --example rtreq
//! ```
//!
//! Prints `Processed: N tasks` once per worker (the Ns add up to ten times
//! the worker count). Flags: `--workers N` (10), `--bind ENDPOINT`
//! (`tcp://*:5671`), `--connect ENDPOINT` (where workers connect,
//! `tcp://localhost:5671`).

use std::hash::BuildHasher;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{zmq, ZmqContext, ZmqEndpoint, ZmqFactory, ZmqRouterConnection};
use tx0mq::Reactor;

mod pyport;

/// A random number below `n` (std has no generator; each `RandomState` is keyed anew).
fn random_below(n: u64) -> u64 {
    std::collections::hash_map::RandomState::new().hash_one(()) % n.max(1)
}

/// A worker thread: blocking REQ socket, as in the original.
fn worker_thread(context: &ZmqContext, endpoint: &str) -> zmq::Result<()> {
    let worker = context.socket(zmq::REQ)?;
    // We use a string identity for ease here (zhelpers.set_id)
    let identity = format!(
        "{:04x}-{:04x}",
        random_below(0x10000),
        random_below(0x10000)
    );
    worker.set_identity(identity.as_bytes())?;
    worker.connect(endpoint)?;

    let mut total = 0;
    loop {
        // Tell the router we're ready for work
        worker.send("ready", 0)?;
        // Get workload from router, until finished
        let workload = worker.recv_bytes(0)?;
        if workload == b"END" {
            println!("Processed: {total} tasks");
            return Ok(());
        }
        total += 1;
        // Do some random work
        thread::sleep(Duration::from_millis(random_below(100)));
    }
}

/// The broker's state: how many answers it has given.
struct Router {
    sent: u32,
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::with_state(Router { sent: 0 })?;
    let factory = ZmqFactory::new(&reactor)?;
    let client = ZmqRouterConnection::new(&factory, ZmqEndpoint::bind(&args.bind))?;

    let mut threads = Vec::new();
    for _ in 0..args.workers {
        let context = factory.context()?;
        let endpoint = args.connect.clone();
        threads.push(thread::spawn(move || {
            if let Err(e) = worker_thread(&context, &endpoint) {
                log::error!("worker: {e}");
            }
        }));
    }

    let tasks = args.workers * 10;
    let total = tasks + args.workers;
    client.got_message(move |cx, address, _ready| {
        // LRU worker is next waiting in the queue
        cx.state.sent += 1;
        if cx.state.sent <= tasks {
            cx.conn.send_msg(&address, ["", "This is the workload"])
        } else {
            // Now ask mama to shut down and report their results
            cx.conn.send_msg(&address, ["", "END"])?;
            if cx.state.sent == total {
                cx.reactor.stop()?;
            }
            Ok(())
        }
    });
    if total == 0 {
        reactor.call_when_running(|cx| cx.reactor.stop());
    }

    reactor.run()?;
    // Like Python's exit, which waits for its (non-daemon) threads: let every
    // worker get its END and report, with the ROUTER still open.
    if reactor.access_state(|router| router.sent >= total)? {
        for thread in threads {
            let _ = thread.join();
        }
    }
    factory.shutdown();
    Ok(())
}

/// ROUTER to REQ workers: workloads to whichever asked last (zguide's
/// rtreq.py).
#[derive(Parser)]
struct Args {
    /// Worker threads
    #[arg(long, value_name = "N", default_value_t = 10)]
    workers: u32,
    /// Endpoint of the ROUTER
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:5671")]
    bind: String,
    /// Endpoint the workers connect to
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5671")]
    connect: String,
}

fn main() -> ExitCode {
    pyport::main(run)
}
