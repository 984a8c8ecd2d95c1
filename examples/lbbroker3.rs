//! `lbbroker3.py`, the zguide's load-balancing broker on pyzmq's IOLoop
//! (chapter 3, "A Load Balancing Message Broker"): the broker is a class,
//! `LRUQueue`, whose methods are the `on_recv` handlers of two ZMQStreams,
//! a ROUTER bound to `ipc://frontend.ipc` for ten client threads and one
//! bound to `ipc://backend.ipc` for three worker threads (REQ sockets on
//! a context of their own, as if they were other processes). Each client
//! sends `HELLO` and prints the reply; each worker says `READY`, then prints
//! each request and answers `OK`. The frontend's handler is installed while
//! a worker is ready and removed (`stop_on_recv`) when none is; each request
//! goes to the worker that became ready last. After ten replies a timeout
//! stops the loop a second later.
//!
//! The port is the same shape, the reactor being the IOLoop: the class's
//! state is the reactor's state (`LruQueue`), its two handlers are two
//! protocols (`Backend` and `Frontend`, which hold the other connection to
//! send on), and `on_recv`/`stop_on_recv` are `resume_reading` and
//! `pause_reading`. The loop's timeout is a `call_later`. The threads are
//! as in the original, with blocking sockets; the workers end with the
//! process, as the original's daemon threads do.
//!
//! ```sh
//! cargo run --example lbbroker3
//! ```
//!
//! Prints `Worker-N: HELLO` for each request a worker handles and
//! `Client-N: OK` for each reply, then exits. Flags (defaults are the
//! original's): `--clients N` (10), `--workers N` (3), `--frontend`
//! (`ipc://frontend.ipc`), `--backend` (`ipc://backend.ipc`).

use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{
    bytes_repr, Frame, Multipart, RouterProtocol, ZmqContext, ZmqCtx, ZmqEndpoint, ZmqFactory,
    ZmqRouterConnection,
};
use tx0mq::Reactor;

mod lbthreads;
mod pyport;

/// The original's `LRUQueue`: what both handlers share.
struct LruQueue {
    available_workers: usize,
    workers: Vec<Frame>,
    client_nbr: usize,
}

/// The backend stream's `on_recv`: `LRUQueue.handle_backend`.
struct Backend {
    frontend: ZmqRouterConnection<LruQueue>,
}

/// The frontend stream's `on_recv`: `LRUQueue.handle_frontend`.
struct Frontend {
    backend: ZmqRouterConnection<LruQueue>,
}

impl RouterProtocol<LruQueue> for Backend {
    fn got_message(
        &mut self,
        cx: &mut ZmqCtx<'_, LruQueue, ZmqRouterConnection<LruQueue>>,
        worker_addr: Frame,
        msg: Multipart,
    ) {
        // [empty, "READY"] or [empty, client, empty, reply]
        let reply = match &msg[..] {
            [empty, ready] if empty.is_empty() && ready[..] == *b"READY" => None,
            [empty, client, empty2, reply] if empty.is_empty() && empty2.is_empty() => {
                Some((client, reply))
            }
            _ => {
                log::warn!(
                    "dropped a message from {} that is neither READY nor a reply",
                    bytes_repr(&worker_addr)
                );
                return;
            }
        };
        let queue = &mut *cx.state;
        // add worker back to the list of workers
        queue.available_workers += 1;
        queue.workers.push(worker_addr);

        // If client reply, send rest back to frontend
        if let Some((client_addr, reply)) = reply {
            if let Err(e) = self.frontend.send_msg(client_addr, [&b""[..], reply]) {
                log::error!("cannot send a reply to {}: {e}", bytes_repr(client_addr));
            }
            queue.client_nbr = queue.client_nbr.saturating_sub(1);
            if queue.client_nbr == 0 {
                // Exit after N messages
                cx.reactor
                    .call_later(Duration::from_secs(1), |cx| cx.reactor.stop());
            }
        }
        // when at least 1 worker is ready, start accepting frontend messages
        self.frontend.resume_reading();
    }
}

impl RouterProtocol<LruQueue> for Frontend {
    fn got_message(
        &mut self,
        cx: &mut ZmqCtx<'_, LruQueue, ZmqRouterConnection<LruQueue>>,
        client_addr: Frame,
        msg: Multipart,
    ) {
        // Client request is [address][empty][request]
        let [empty, request] = &msg[..] else {
            log::warn!("dropped a client request that is not [\"\", request]");
            return;
        };
        if !empty.is_empty() {
            log::warn!("dropped a client request that is not [\"\", request]");
            return;
        }
        let queue = &mut *cx.state;
        // Dequeue and drop the next worker address
        let Some(worker_id) = queue.workers.pop() else {
            cx.conn.pause_reading(); // cannot happen: read only while a worker is ready
            return;
        };
        queue.available_workers -= 1;
        let sent = self
            .backend
            .send_msg(&worker_id, [&b""[..], &client_addr, b"", request]);
        if let Err(e) = sent {
            log::error!("cannot send a request to {}: {e}", bytes_repr(&worker_id));
        }
        if queue.available_workers == 0 {
            // stop receiving until workers become available again
            cx.conn.pause_reading();
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    // The threads' context: another process's, as far as the broker knows.
    let threads_context = ZmqContext::new();

    // Prepare our context and sockets
    let reactor = Reactor::with_state(LruQueue {
        available_workers: 0,
        workers: Vec::new(),
        client_nbr: args.clients,
    })?;
    let factory = ZmqFactory::new(&reactor)?;
    let frontend = ZmqRouterConnection::new(&factory, ZmqEndpoint::bind(&args.frontend))?;
    let backend = ZmqRouterConnection::new(&factory, ZmqEndpoint::bind(&args.backend))?;

    // create workers and clients threads
    for i in 0..args.workers {
        let (context, url) = (threads_context.clone(), args.backend.clone());
        thread::spawn(move || {
            if let Err(e) = lbthreads::worker_thread(&url, &context, i) {
                log::error!("Worker-{i}: {e}");
            }
        });
    }
    let mut clients = Vec::new();
    for i in 0..args.clients {
        let (context, url) = (threads_context.clone(), args.frontend.clone());
        clients.push(thread::spawn(move || {
            if let Err(e) = lbthreads::client_thread(&url, &context, i) {
                log::error!("Client-{i}: {e}");
            }
        }));
    }

    // create queue with the sockets
    frontend.pause_reading(); // no worker is ready yet
    frontend.set_protocol(Frontend {
        backend: backend.clone(),
    })?;
    backend.set_protocol(Backend {
        frontend: frontend.clone(),
    })?;

    // start reactor
    if args.clients == 0 {
        reactor.call_when_running(|cx| cx.reactor.stop());
    }
    reactor.run()?;
    if reactor.access_state(|queue| queue.client_nbr == 0)? {
        for client in clients {
            let _ = client.join();
        }
    }
    factory.shutdown();
    Ok(())
}

/// Load-balancing broker as an IOLoop class, with client and worker threads
/// (zguide's lbbroker3.py).
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
