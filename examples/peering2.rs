//! `peering2.py`, the zguide's broker peering prototype of the request-reply
//! flow (chapter 3, "Inter-Broker Routing", "Prototyping the Local and
//! Cloud Flows"): run as `peering2.py <me> <peer_1> ... <peer_N>` (without
//! arguments it prints the usage line and exits 1), each broker binds a
//! ROUTER for its clients (`ipc://<me>-localfe.ipc`), one for its workers
//! (`ipc://<me>-localbe.ipc`) and one for its peers' requests
//! (`ipc://<me>-cloud.ipc`), and connects a fourth, named `<me>`, to each
//! peer's cloud endpoint. Once Enter is pressed it starts ten client and
//! three worker threads (REQ sockets): each client sends `HELLO`, prints
//! the reply and sleeps a second, forever; each worker prints what it gets
//! and answers `OK`. Replies from the workers and from peers go back to the
//! client or peer broker they are addressed to; while a worker is ready,
//! requests from peers go to a worker, and requests from the local clients
//! go to a worker, or one time in five to a random peer.
//!
//! The port: the four ROUTERs are `ZmqRouterConnection`s sharing the ready
//! workers (and the random generator) as the reactor's state. The two
//! frontends are paused while no worker is ready, where the original stops
//! polling them. `input()` is a `LineReceiver` on `StandardIO`, whose first
//! line starts the threads and the backends. The threads keep their
//! blocking sockets, each on a context of its own.
//!
//! ```sh
//! cargo run --example peering2 -- DC1 DC2 &
//! cargo run --example peering2 -- DC2 DC1
//! ```
//!
//! then Enter in both. Prints `I: preparing broker at DC1...`, `I:
//! connecting to cloud frontend at DC2`, `Press Enter when all brokers are
//! started: `, then `Client-3: b'OK'` per reply and `Worker-1:
//! [b'Client-DC1-3', b'', b'HELLO']` per request (followed by an empty
//! line, as the original's `tprint` adds one); a request that came through
//! a peer shows the peer's name first: `Worker-1: [b'DC2', b'',
//! b'Client-DC2-0', b'', b'HELLO']`. Binds its ipc files in the current
//! directory, as the original does. Flags: `--clients N` (10), `--workers
//! N` (3), `--seed N` (the routing's random choices).

use std::collections::VecDeque;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{
    bytes_repr, zmq, Error, Frame, Multipart, ZmqContext, ZmqEndpoint, ZmqFactory, ZmqOptions,
    ZmqRouterConnection,
};
use tx0mq::net::basic::{LineCtx, LineProtocol, LineReceiver};
use tx0mq::net::{Reason, StandardIO};
use tx0mq::Reactor;

mod pyport;
use pyport::Random;

/// Request-reply client using a REQ socket.
fn client_task(name: &str, i: usize) -> zmq::Result<()> {
    let ctx = ZmqContext::new();
    let client = ctx.socket(zmq::REQ)?;
    client.set_identity(format!("Client-{name}-{i}").as_bytes())?;
    client.connect(&format!("ipc://{name}-localfe.ipc"))?;
    loop {
        client.send("HELLO", 0)?;
        let reply = client.recv_bytes(0)?;
        println!("Client-{i}: {}", bytes_repr(&reply));
        thread::sleep(Duration::from_secs(1));
    }
}

/// Worker using a REQ socket to do load balancing.
fn worker_task(name: &str, i: usize) -> zmq::Result<()> {
    let ctx = ZmqContext::new();
    let worker = ctx.socket(zmq::REQ)?;
    worker.set_identity(format!("Worker-{name}-{i}").as_bytes())?;
    worker.connect(&format!("ipc://{name}-localbe.ipc"))?;

    // Tell broker we're ready for work
    worker.send("READY", 0)?;

    // Process messages as they arrive
    loop {
        let mut msg = worker.recv_multipart(0)?;
        println!("Worker-{i}: {}\n", pyport::bytes_list_repr(&msg));
        match msg.last_mut() {
            Some(last) => *last = b"OK".to_vec(),
            None => msg.push(b"OK".to_vec()),
        }
        worker.send_multipart(msg, 0)?;
    }
}

/// The broker's state.
struct Broker {
    /// Workers ready for a request, the one ready longest first.
    workers: VecDeque<Frame>,
    /// The peers' names, which are their cloud sockets' identities.
    peers: Vec<Vec<u8>>,
    random: Random,
    /// Set when stdin ended before Enter.
    no_enter: bool,
}

/// The broker's four sockets.
#[derive(Clone)]
struct Sockets {
    localfe: ZmqRouterConnection<Broker>,
    localbe: ZmqRouterConnection<Broker>,
    cloudfe: ZmqRouterConnection<Broker>,
    cloudbe: ZmqRouterConnection<Broker>,
}

impl Sockets {
    /// Sends a reply `[address, rest...]` on: to the cloud if it is
    /// addressed to a broker, else to the client.
    fn route_reply(&self, broker: &Broker, msg: &[Frame]) -> Result<(), Error> {
        let Some((address, rest)) = msg.split_first() else {
            return Ok(());
        };
        let rest: Multipart = rest.iter().collect();
        if broker.peers.iter().any(|peer| peer[..] == address[..]) {
            // Route reply to cloud if it's addressed to a broker
            self.cloudfe.send_msg(address, rest)
        } else {
            // Route reply to client if we still need to
            self.localfe.send_msg(address, rest)
        }
    }

    /// Reads the frontends only while a worker is ready.
    fn poll_frontends(&self, broker: &Broker) {
        for frontend in [&self.localfe, &self.cloudfe] {
            if broker.workers.is_empty() {
                frontend.pause_reading();
            } else {
                frontend.resume_reading();
            }
        }
    }

    /// Sends `[sender, parts...]` to the worker ready longest, or, when
    /// `reroutable`, one time in five to a random peer.
    fn route_request(
        &self,
        broker: &mut Broker,
        sender: Frame,
        parts: Multipart,
        reroutable: bool,
    ) -> Result<(), Error> {
        let mut msg = Multipart::with_capacity(parts.len() + 2);
        msg.push(b"");
        msg.push(sender);
        msg.extend(parts);
        // If reroutable, send to cloud 20% of the time
        // Here we'd normally use cloud status information
        if reroutable && !broker.peers.is_empty() && broker.random.randint(0, 4) == 0 {
            // Route to random broker peer
            if let Some(peer) = broker.random.choice(&broker.peers) {
                return self.cloudbe.send_msg(peer, msg);
            }
        }
        let Some(worker) = broker.workers.pop_front() else {
            log::warn!("dropped a request: no worker is ready");
            return Ok(());
        };
        self.localbe.send_msg(&worker, msg)?;
        self.poll_frontends(broker);
        Ok(())
    }
}

/// Splits `["", rest...]` into `rest`, or says why not.
fn after_delimiter(parts: &Multipart) -> Option<&[Frame]> {
    match &parts[..] {
        [empty, rest @ ..] if empty.is_empty() && !rest.is_empty() => Some(rest),
        _ => None,
    }
}

/// `input("Press Enter when all brokers are started: ")`, then the start.
struct Prompt {
    sockets: Sockets,
    myself: String,
    clients: usize,
    workers: usize,
    started: bool,
}

impl LineProtocol<Broker> for Prompt {
    fn line_received(&mut self, cx: &mut LineCtx<'_, Broker>, _line: &[u8]) {
        if std::mem::replace(&mut self.started, true) {
            return;
        }
        cx.transport.lose_connection();
        // create workers and clients threads
        for i in 0..self.workers {
            let name = self.myself.clone();
            thread::spawn(move || {
                if let Err(e) = worker_task(&name, i) {
                    log::error!("Worker-{i}: {e}");
                }
            });
        }
        for i in 0..self.clients {
            let name = self.myself.clone();
            thread::spawn(move || {
                if let Err(e) = client_task(&name, i) {
                    log::error!("Client-{i}: {e}");
                }
            });
        }
        // Request-reply flow: the backends now; the frontends with workers.
        self.sockets.localbe.resume_reading();
        self.sockets.cloudbe.resume_reading();
    }

    fn connection_lost(&mut self, cx: &mut LineCtx<'_, Broker>, reason: &Reason) {
        // The reactor's own shutdown (SIGINT before Enter) closes standard
        // I/O too: that is not stdin closing.
        if !self.started && !matches!(reason, Reason::ReactorShutdown) {
            // Python's `input()` raises `EOFError`.
            eprintln!("peering2: stdin closed before Enter was pressed");
            cx.state.no_enter = true;
            let _ = cx.reactor.stop();
        }
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let Some(myself) = args.me else {
        println!("Usage: peering2 <me> [<peer_1> [... <peer_N>]]");
        return Err("no name given for this broker".into());
    };
    println!("I: preparing broker at {myself}...");

    let reactor = Reactor::with_state(Broker {
        workers: VecDeque::new(),
        peers: args.peers.iter().map(|p| p.as_bytes().to_vec()).collect(),
        random: Random::from_seed(args.seed),
        no_enter: false,
    })?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let named = ZmqOptions::new().identity(&myself);

    // Bind cloud frontend to endpoint
    let cloud = ZmqEndpoint::bind(format!("ipc://{myself}-cloud.ipc"));
    let cloudfe = ZmqRouterConnection::with_options(&factory, cloud, &named)?;
    // Connect cloud backend to all peers
    let mut peers = Vec::new();
    for peer in &args.peers {
        println!("I: connecting to cloud frontend at {peer}");
        peers.push(ZmqEndpoint::connect(format!("ipc://{peer}-cloud.ipc")));
    }
    let cloudbe = ZmqRouterConnection::with_options(&factory, peers, &named)?;
    // Prepare local frontend and backend
    let localfe_at = ZmqEndpoint::bind(format!("ipc://{myself}-localfe.ipc"));
    let localfe = ZmqRouterConnection::new(&factory, localfe_at)?;
    let localbe_at = ZmqEndpoint::bind(format!("ipc://{myself}-localbe.ipc"));
    let localbe = ZmqRouterConnection::new(&factory, localbe_at)?;
    let sockets = Sockets {
        localfe,
        localbe,
        cloudfe,
        cloudbe,
    };
    // Nothing is polled before Enter.
    for socket in [
        &sockets.localfe,
        &sockets.localbe,
        &sockets.cloudfe,
        &sockets.cloudbe,
    ] {
        socket.pause_reading();
    }

    // Handle reply from local worker
    let s = sockets.clone();
    sockets.localbe.got_message(move |cx, worker, parts| {
        let Some(msg) = after_delimiter(&parts) else {
            log::warn!("dropped a malformed message from {}", bytes_repr(&worker));
            return Ok(());
        };
        cx.state.workers.push_back(worker);
        // If it's READY, don't route the message any further
        if msg.last().is_some_and(|last| last[..] != *b"READY") {
            s.route_reply(cx.state, msg)?;
        }
        s.poll_frontends(cx.state);
        Ok::<(), Error>(())
    });
    // Handle reply from a peer broker (whose address we don't use)
    let s = sockets.clone();
    sockets.cloudbe.got_message(move |cx, peer, parts| {
        let Some(msg) = after_delimiter(&parts) else {
            log::warn!("dropped a malformed message from {}", bytes_repr(&peer));
            return Ok(());
        };
        s.route_reply(cx.state, msg)
    });
    // Route the peer brokers' requests to workers, the clients' to workers
    // or peers.
    let s = sockets.clone();
    sockets
        .cloudfe
        .got_message(move |cx, peer, parts| s.route_request(cx.state, peer, parts, false));
    let s = sockets.clone();
    sockets
        .localfe
        .got_message(move |cx, client, parts| s.route_request(cx.state, client, parts, true));

    // Get user to tell us when we can start... (asked once the reactor
    // runs, so Ctrl-C at the prompt is already the reactor's clean stop)
    reactor.call_when_running(|_| println!("Press Enter when all brokers are started: "));
    let prompt = Prompt {
        sockets,
        myself,
        clients: args.clients,
        workers: args.workers,
        started: false,
    };
    let _stdin = StandardIO::new(&reactor, LineReceiver::new(prompt).delimiter(b"\n"))?;

    reactor.run()?;
    if reactor.access_state(|broker| broker.no_enter)? {
        return Err("never started".into());
    }
    Ok(())
}

/// Broker peering: the request-reply flow between local and cloud
/// (zguide's peering2.py).
#[derive(Parser)]
struct Args {
    /// This broker's name
    me: Option<String>,
    /// Its peers' names
    peers: Vec<String>,
    /// Client threads
    #[arg(long, value_name = "N", default_value_t = 10)]
    clients: usize,
    /// Worker threads
    #[arg(long, value_name = "N", default_value_t = 3)]
    workers: usize,
    /// Seed of the routing's random choices [default: from the clock]
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
