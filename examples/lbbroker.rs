//! `lbbroker.py`, the zguide's load-balancing broker (chapter 3, "A Load
//! Balancing Message Broker"): a ROUTER bound to `ipc://frontend.ipc` for
//! ten client processes and one bound to `ipc://backend.ipc` for three
//! worker processes, all with REQ sockets. Each client sends `HELLO` and
//! prints the reply; each worker prints what it gets and answers `OK`. The
//! broker hands each request to the worker ready longest, polls the
//! frontend only while a worker is free, and stops after ten replies.
//!
//! The port: the broker's two ROUTERs are connections in the reactor and
//! share one piece of state, the queue of ready workers, which the reactor
//! lends to both callbacks as `cx.state` (no `Rc<RefCell<_>>`). The
//! original's poller becomes `pause_reading()` / `resume_reading()` on the
//! frontend. The clients and workers are threads with blocking REQ sockets.
//!
//! ```sh
//! cargo run --example lbbroker
//! ```
//!
//! Prints `Worker-N: HELLO` for each request a worker handles and
//! `Client-N: OK` for each reply, then exits once every client has its
//! reply. Flags (defaults are the original's): `--clients N` (10),
//! `--workers N` (3), `--frontend ENDPOINT` (`ipc://frontend.ipc`),
//! `--backend ENDPOINT` (`ipc://backend.ipc`).

use std::collections::VecDeque;
use std::process::ExitCode;
use std::thread;

use clap::Parser;
use tx0mq::connections::{Error, Frame, ZmqEndpoint, ZmqFactory, ZmqRouterConnection};
use tx0mq::Reactor;

mod lbthreads;
mod pyport;

/// The broker's state, shared by the frontend's and the backend's callbacks.
struct Broker {
    /// Workers ready for a request, the one ready longest first.
    workers: VecDeque<Frame>,
    /// Replies still to deliver before the broker stops.
    count: usize,
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::with_state(Broker {
        workers: VecDeque::new(),
        count: args.clients,
    })?;
    // Prepare context and sockets
    let factory = ZmqFactory::new(&reactor)?;
    let frontend = ZmqRouterConnection::new(&factory, ZmqEndpoint::bind(&args.frontend))?;
    let backend = ZmqRouterConnection::new(&factory, ZmqEndpoint::bind(&args.backend))?;

    // Start background tasks
    let mut clients = Vec::new();
    for i in 0..args.clients {
        let (context, endpoint) = (factory.context()?, args.frontend.clone());
        clients.push(thread::spawn(move || {
            if let Err(e) = lbthreads::client_thread(&endpoint, &context, i) {
                log::error!("Client-{i}: {e}");
            }
        }));
    }
    for i in 0..args.workers {
        let (context, endpoint) = (factory.context()?, args.backend.clone());
        thread::spawn(move || {
            if let Err(e) = lbthreads::worker_thread(&endpoint, &context, i) {
                log::error!("Worker-{i}: {e}");
            }
        });
    }

    // Only read requests from clients once workers are available
    frontend.pause_reading();

    // Handle worker activity on the backend
    let to_clients = frontend.clone();
    backend.got_message(move |cx, worker, request| {
        // [empty, client, empty, reply] or [empty, "READY"]
        cx.state.workers.push_back(worker);
        if to_clients.is_paused() {
            // Read clients now that a worker is available
            to_clients.resume_reading();
        }
        if let [_, client, _, reply] = &request[..] {
            // If client reply, send rest back to frontend
            to_clients.send_msg(client, [&b""[..], reply])?;
            cx.state.count = cx.state.count.saturating_sub(1);
            if cx.state.count == 0 {
                cx.reactor.stop()?;
            }
        }
        Ok::<(), Error>(())
    });

    // Get next client request, route to the worker ready longest
    let to_workers = backend.clone();
    frontend.got_message(move |cx, client, request| {
        let [_, request] = &request[..] else {
            log::warn!("dropped a client request that is not [\"\", request]");
            return Ok(());
        };
        let Some(worker) = cx.state.workers.pop_front() else {
            return Ok(()); // cannot happen: we read clients only while a worker is free
        };
        to_workers.send_msg(&worker, [&b""[..], &client, b"", request])?;
        if cx.state.workers.is_empty() {
            // Don't read clients while no worker is available
            cx.conn.pause_reading();
        }
        Ok::<(), Error>(())
    });

    if args.clients == 0 {
        reactor.call_when_running(|cx| cx.reactor.stop());
    }
    reactor.run()?;
    // Every client has its reply on the way: let them print it, then clean up.
    if reactor.access_state(|broker| broker.count == 0)? {
        for client in clients {
            let _ = client.join();
        }
    }
    factory.shutdown();
    Ok(())
}

/// Load-balancing broker between client and worker threads (zguide's
/// lbbroker.py).
#[derive(Parser)]
struct Args {
    /// Client threads
    #[arg(long, value_name = "N", default_value_t = 10)]
    clients: usize,
    /// Worker threads
    #[arg(long, value_name = "N", default_value_t = 3)]
    workers: usize,
    /// Endpoint of the clients' ROUTER
    #[arg(long, value_name = "ENDPOINT", default_value = "ipc://frontend.ipc")]
    frontend: String,
    /// Endpoint of the workers' ROUTER
    #[arg(long, value_name = "ENDPOINT", default_value = "ipc://backend.ipc")]
    backend: String,
}

fn main() -> ExitCode {
    pyport::main(run)
}
