//! `rtdealer.py`, the zguide's ROUTER-to-DEALER example (chapter 3, "ROUTER
//! Broker and DEALER Workers"): a ROUTER bound to `ipc://routing.ipc` and
//! two worker threads with DEALER sockets named `A` and `B`. After a second
//! "for threads to stabilize" the ROUTER sends ten workloads, to `A` twice
//! as often as to `B`, then `END` to both, and each worker prints how many
//! it received.
//!
//! The port: the two workers are threads with blocking DEALER sockets, as in
//! the original. The ROUTER is a connection in the reactor; the second's
//! sleep is a `call_later`. The ROUTER is `router_mandatory`, so a worker
//! that has not connected by then is an error instead of a message silently
//! lost (and a worker waiting forever).
//!
//! ```sh
//! cargo run --example rtdealer
//! ```
//!
//! Prints `A received: N` and `B received: M` (N + M = 10), then exits.
//! Flags: `--endpoint` (default the original's `ipc://routing.ipc`),
//! `--delay-ms` (default 1000).

use std::hash::BuildHasher;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{
    zmq, Error, ZmqContext, ZmqEndpoint, ZmqFactory, ZmqOptions, ZmqRouterConnection,
};
use tx0mq::Reactor;

mod pyport;

/// A random number below `n` (std has no generator; each `RandomState` is keyed anew).
fn random_below(n: u64) -> u64 {
    std::collections::hash_map::RandomState::new().hash_one(()) % n.max(1)
}

/// A worker thread: one DEALER with identity `name`, counting workloads until END.
fn worker(context: &ZmqContext, name: &str, endpoint: &str) -> zmq::Result<()> {
    let worker = context.socket(zmq::DEALER)?;
    worker.set_identity(name.as_bytes())?;
    worker.connect(endpoint)?;

    let mut total = 0;
    loop {
        // We receive one part, with the workload
        let request = worker.recv_bytes(0)?;
        if request == b"END" {
            println!("{name} received: {total}");
            return Ok(());
        }
        total += 1;
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    // The state: whether every message went out.
    let reactor = Reactor::with_state(false)?;
    let factory = ZmqFactory::new(&reactor)?;
    let client = ZmqRouterConnection::with_options(
        &factory,
        ZmqEndpoint::bind(&args.endpoint),
        &ZmqOptions::new().router_mandatory(true),
    )?;

    // We have two workers; normally these would run on different boxes...
    let mut workers = Vec::new();
    for name in ["A", "B"] {
        let context = factory.context()?;
        let endpoint = args.endpoint.clone();
        workers.push(thread::spawn(move || {
            if let Err(e) = worker(&context, name, &endpoint) {
                log::error!("worker {name}: {e}");
            }
        }));
    }

    // Wait for threads to stabilize, then send 10 tasks scattered to A twice
    // as often as B, then END to both.
    reactor.call_later(args.delay, move |cx| {
        cx.reactor.stop()?; // after this pass: the sends below are the last work
        for _ in 0..10 {
            // Send two message parts, first the address, then the workload
            let ident = ["A", "A", "B"][random_below(3) as usize];
            client.send_msg(ident.as_bytes(), "This is the workload")?;
        }
        client.send_msg(b"A", "END")?;
        client.send_msg(b"B", "END")?;
        *cx.state = true;
        Ok::<(), Error>(())
    });

    reactor.run()?;
    if !reactor.access_state(|sent| *sent)? {
        return Err("the workload could not be sent (are both workers connected?)".into());
    }
    // Like Python's exit, which waits for its (non-daemon) threads.
    for worker in workers {
        let _ = worker.join();
    }
    factory.shutdown();
    Ok(())
}

/// ROUTER to DEALER workers by identity (zguide's rtdealer.py).
#[derive(Parser)]
struct Args {
    /// Endpoint of the ROUTER
    #[arg(long, value_name = "ENDPOINT", default_value = "ipc://routing.ipc")]
    endpoint: String,
    /// Milliseconds to wait for the workers before sending
    #[arg(long = "delay-ms", default_value = "1000", value_name = "MS", value_parser = pyport::millis)]
    delay: Duration,
}

fn main() -> ExitCode {
    pyport::main(run)
}
