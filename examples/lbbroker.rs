//! Load-balancing broker: clients' requests go to whichever worker has been
//! ready longest; the broker stops reading clients while no worker is free.
//!
//! Port of the zguide's `lbbroker.py` (chapter 3, "A Load Balancing
//! Message Broker"). The broker's two ROUTERs are connections in the reactor
//! and share one piece of state, the queue of ready workers, which the
//! reactor lends to both callbacks as `cx.state` (no `Rc<RefCell<_>>`). The
//! original's poller, which polls the frontend only while a worker is
//! available, becomes `pause_reading()` / `resume_reading()` on the frontend.
//! The clients and workers, processes in the original, are threads with
//! blocking REQ sockets here.
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

use tx0mq::connections::{zmq, Error, Frame, ZmqEndpoint, ZmqFactory, ZmqRouterConnection};
use tx0mq::Reactor;

const USAGE: &str = "usage: lbbroker [--clients N] [--workers N] \
                     [--frontend ENDPOINT] [--backend ENDPOINT]";

struct Args {
    clients: usize,
    workers: usize,
    frontend: String,
    backend: String,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        clients: 10,
        workers: 3,
        frontend: "ipc://frontend.ipc".to_string(),
        backend: "ipc://backend.ipc".to_string(),
    };
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        let mut value = || argv.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--clients" => args.clients = value()?.parse().map_err(|e| format!("{flag}: {e}"))?,
            "--workers" => args.workers = value()?.parse().map_err(|e| format!("{flag}: {e}"))?,
            "--frontend" => args.frontend = value()?,
            "--backend" => args.backend = value()?,
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    Ok(args)
}

/// Basic request-reply client using a REQ socket.
fn client_task(context: &zmq::Context, ident: usize, endpoint: &str) -> zmq::Result<()> {
    let socket = context.socket(zmq::REQ)?;
    let identity = format!("Client-{ident}");
    socket.set_identity(identity.as_bytes())?;
    socket.connect(endpoint)?;

    // Send request, get reply
    socket.send("HELLO", 0)?;
    let reply = socket.recv_bytes(0)?;
    println!("{identity}: {}", String::from_utf8_lossy(&reply));
    Ok(())
}

/// Worker task, using a REQ socket to do load-balancing.
fn worker_task(context: &zmq::Context, ident: usize, endpoint: &str) -> zmq::Result<()> {
    let socket = context.socket(zmq::REQ)?;
    let identity = format!("Worker-{ident}");
    socket.set_identity(identity.as_bytes())?;
    socket.connect(endpoint)?;

    // Tell broker we're ready for work
    socket.send("READY", 0)?;
    loop {
        let [address, _empty, request] = &socket.recv_multipart(0)?[..] else {
            log::warn!("{identity}: dropped a request that is not [address, \"\", request]");
            socket.send("", 0)?; // a REQ socket must answer before it can receive again
            continue;
        };
        println!("{identity}: {}", String::from_utf8_lossy(request));
        socket.send_multipart([&address[..], b"", b"OK"], 0)?;
    }
}

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
            if let Err(e) = client_task(&context, i, &endpoint) {
                log::error!("Client-{i}: {e}");
            }
        }));
    }
    for i in 0..args.workers {
        let (context, endpoint) = (factory.context()?, args.backend.clone());
        thread::spawn(move || {
            if let Err(e) = worker_task(&context, i, &endpoint) {
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

fn main() -> ExitCode {
    env_logger::init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("lbbroker: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lbbroker: {e}");
            ExitCode::FAILURE
        }
    }
}
