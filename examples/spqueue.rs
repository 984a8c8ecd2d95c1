//! `spqueue.py`, the zguide's Simple Pirate queue (chapter 4, "Basic
//! Reliable Queuing (Simple Pirate Pattern)"): the load-balancing broker
//! with no reliability of its own. A ROUTER bound to `tcp://*:5555` takes
//! the clients' requests (Lazy Pirate clients, which retry on silence), a
//! ROUTER bound to `tcp://*:5556` the workers' (`spworker`, REQ sockets
//! that start with a ready signal, `"\x01"`). Each request goes to the
//! worker ready longest; each reply goes back to its client. The frontend
//! is polled only while a worker is ready. Runs forever, printing nothing.
//!
//! The port: two `ZmqRouterConnection`s sharing the queue of ready workers
//! as the reactor's state; the frontend is paused while that queue is empty
//! and resumed when a worker comes back, where the original switches
//! between its two pollers.
//!
//! ```sh
//! cargo run --example spqueue &
//! cargo run --example spworker &
//! cargo run --example lpclient
//! ```
//!
//! Flags: `--frontend` (`tcp://*:5555`), `--backend` (`tcp://*:5556`).

use std::collections::VecDeque;
use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::ZmqRouterConnection;
use tx0mq::connections::{bytes_repr, Error, Frame, Multipart, ZmqEndpoint, ZmqFactory};
use tx0mq::Reactor;

mod pirates;
mod pyport;
use pirates::LRU_READY;

/// The queue's state: the workers ready for a request, the one ready
/// longest first.
#[derive(Default)]
struct Queue {
    workers: VecDeque<Frame>,
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::with_state(Queue::default())?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let frontend = ZmqRouterConnection::new(&factory, ZmqEndpoint::bind(&args.frontend))?; // For clients
    let backend = ZmqRouterConnection::new(&factory, ZmqEndpoint::bind(&args.backend))?; // For workers

    // No worker yet: poll the workers only.
    frontend.pause_reading();

    // Handle worker activity on backend
    let to_clients = frontend.clone();
    backend.got_message(move |cx, worker, msg| {
        // [empty, "\x01"] or [empty, client, empty, reply...]
        if msg.first().is_none_or(|delimiter| !delimiter.is_empty()) || msg.len() < 2 {
            log::warn!(
                "dropped a message from worker {} that is not [\"\", ...]",
                bytes_repr(&worker)
            );
            return Ok(());
        }
        // Use worker address for load balancing
        cx.state.workers.push_back(worker);
        to_clients.resume_reading();
        // Everything after the delimiter is the reply: forward it unless it
        // is the ready signal.
        let reply: Multipart = msg.iter().skip(1).collect();
        if !(reply.len() == 1 && reply[0][..] == *LRU_READY) {
            let client = reply[0].to_vec();
            to_clients.send_msg(&client, reply.iter().skip(1).collect::<Multipart>())?;
        }
        Ok::<(), Error>(())
    });

    // Get client request, route to first available worker
    let to_workers = backend.clone();
    frontend.got_message(move |cx, client, msg| {
        let Some(worker) = cx.state.workers.pop_front() else {
            cx.conn.pause_reading();
            return Ok(()); // cannot happen: clients are read only while a worker is ready
        };
        let mut request = Multipart::with_capacity(msg.len() + 2);
        request.push(b"");
        request.push(client);
        request.extend(msg);
        to_workers.send_msg(&worker, request)?;
        if cx.state.workers.is_empty() {
            cx.conn.pause_reading();
        }
        Ok::<(), Error>(())
    });

    reactor.run()?;
    Ok(())
}

/// Simple Pirate queue: load-balances Lazy Pirate clients over workers
/// (zguide's spqueue.py).
#[derive(Parser)]
struct Args {
    /// Endpoint for the clients
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:5555")]
    frontend: String,
    /// Endpoint for the workers
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:5556")]
    backend: String,
}

fn main() -> ExitCode {
    pyport::main(run)
}
