//! `lbbroker2.py`, the zguide's load-balancing broker with its clients and
//! workers as threads of one process (chapter 3, "A Load Balancing Message
//! Broker"): a ROUTER bound to `inproc://clients` for ten client threads and
//! one bound to `inproc://workers` for three worker threads, all REQ sockets
//! on the broker's context. Each client sends `HELLO` and prints the reply;
//! each worker says `READY`, then prints each request and answers `OK`. The
//! broker reads the clients only while a worker is ready, hands each request
//! to the worker that became ready last, and after ten replies waits a
//! second, closes its sockets and ends the context, which ends the workers.
//!
//! The port: the two ROUTERs are `ZmqRouterConnection`s sharing the ready
//! workers (a stack, as the original pops the last) and the replies still
//! owed, as the reactor's state. The frontend is paused while no worker is
//! ready. The final second is a `call_later` that stops the reactor. The
//! threads keep blocking REQ sockets on the factory's context (`inproc://`
//! needs the one context); the workers, blocked in `recv`, end with the
//! process rather than with the context's termination.
//!
//! ```sh
//! cargo run --example lbbroker2
//! ```
//!
//! Prints `Worker-N: HELLO` for each request a worker handles and
//! `Client-N: OK` for each reply, then exits. Flags (defaults are the
//! original's): `--clients N` (10), `--workers N` (3), `--frontend`
//! (`inproc://clients`), `--backend` (`inproc://workers`).

use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{bytes_repr, Error, Frame, ZmqEndpoint, ZmqFactory, ZmqRouterConnection};
use tx0mq::Reactor;

mod lbthreads;
mod pyport;

/// The broker's state.
struct Broker {
    /// Workers ready for a request; the last one ready is served first.
    workers: Vec<Frame>,
    /// Replies still to deliver before the broker stops.
    client_nbr: usize,
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::with_state(Broker {
        workers: Vec::new(),
        client_nbr: args.clients,
    })?;
    // Prepare our context and sockets
    let factory = ZmqFactory::new(&reactor)?;
    let frontend = ZmqRouterConnection::new(&factory, ZmqEndpoint::bind(&args.frontend))?;
    let backend = ZmqRouterConnection::new(&factory, ZmqEndpoint::bind(&args.backend))?;

    // create workers and clients threads
    for i in 0..args.workers {
        let (context, url) = (factory.context()?, args.backend.clone());
        thread::spawn(move || {
            if let Err(e) = lbthreads::worker_thread(&url, &context, i) {
                log::debug!("Worker-{i}: {e}");
            }
        });
    }
    let mut clients = Vec::new();
    for i in 0..args.clients {
        let (context, url) = (factory.context()?, args.frontend.clone());
        clients.push(thread::spawn(move || {
            if let Err(e) = lbthreads::client_thread(&url, &context, i) {
                log::error!("Client-{i}: {e}");
            }
        }));
    }

    // Poll the frontend only while a worker is ready.
    frontend.pause_reading();

    // Handle worker activity on backend
    let to_clients = frontend.clone();
    backend.got_message(move |cx, worker_addr, message| {
        // [empty, "READY"] or [empty, client, empty, reply]
        let (client_addr, reply) = match &message[..] {
            [empty, ready] if empty.is_empty() && ready[..] == *b"READY" => (None, None),
            [empty, client, empty2, reply] if empty.is_empty() && empty2.is_empty() => {
                (Some(client), Some(reply))
            }
            _ => {
                log::warn!(
                    "dropped a message from {} that is neither READY nor a reply",
                    bytes_repr(&worker_addr)
                );
                return Ok(());
            }
        };
        // add worker back to the list of workers
        cx.state.workers.push(worker_addr);
        to_clients.resume_reading();
        // If client reply, send rest back to frontend
        if let (Some(client_addr), Some(reply)) = (client_addr, reply) {
            to_clients.send_msg(client_addr, [&b""[..], reply])?;
            cx.state.client_nbr = cx.state.client_nbr.saturating_sub(1);
            if cx.state.client_nbr == 0 {
                // Exit after N messages, and a second of housekeeping.
                cx.reactor
                    .call_later(Duration::from_secs(1), |cx| cx.reactor.stop());
            }
        }
        Ok::<(), Error>(())
    });

    // Get next client request, route to the last worker ready
    let to_workers = backend.clone();
    frontend.got_message(move |cx, client_addr, message| {
        // Client request is [address][empty][request]
        let [empty, request] = &message[..] else {
            log::warn!("dropped a client request that is not [\"\", request]");
            return Ok(());
        };
        if !empty.is_empty() {
            log::warn!("dropped a client request that is not [\"\", request]");
            return Ok(());
        }
        let Some(worker_id) = cx.state.workers.pop() else {
            cx.conn.pause_reading();
            return Ok(()); // cannot happen: clients are read only while a worker is ready
        };
        to_workers.send_msg(&worker_id, [&b""[..], &client_addr, b"", request])?;
        if cx.state.workers.is_empty() {
            cx.conn.pause_reading();
        }
        Ok::<(), Error>(())
    });

    if args.clients == 0 {
        reactor.call_when_running(|cx| cx.reactor.stop());
    }
    reactor.run()?;
    if reactor.access_state(|broker| broker.client_nbr == 0)? {
        for client in clients {
            let _ = client.join();
        }
    }
    factory.shutdown();
    Ok(())
}

/// Load-balancing broker with client and worker threads on inproc
/// endpoints (zguide's lbbroker2.py).
#[derive(Parser)]
struct Args {
    /// Client threads
    #[arg(long, value_name = "N", default_value_t = 10)]
    clients: usize,
    /// Worker threads
    #[arg(long, value_name = "N", default_value_t = 3)]
    workers: usize,
    /// Endpoint of the clients' ROUTER
    #[arg(long, value_name = "ENDPOINT", default_value = "inproc://clients")]
    frontend: String,
    /// Endpoint of the workers' ROUTER
    #[arg(long, value_name = "ENDPOINT", default_value = "inproc://workers")]
    backend: String,
}

fn main() -> ExitCode {
    pyport::main(run)
}
