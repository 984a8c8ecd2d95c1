//! `mdbroker.py`, the zguide's Majordomo broker (chapter 4, "Service-Oriented
//! Reliable Queuing (Majordomo Pattern)"): one ROUTER bound to
//! `tcp://*:5555` for clients (MDP/Client, `MDPC01`) and workers
//! (MDP/Worker, `MDPW01`) alike. Workers announce a service with READY; the
//! broker queues each client request on its service and hands it to the
//! service's worker idle longest, sends the worker's REPLY back to the
//! client, heartbeats idle workers every 2500 ms, forgets a worker silent
//! for three heartbeats, and answers the internal service `mmi.service`
//! (8/MMI) itself: `200` when the service named in the request has a
//! worker, `400` when not, `501` for any other `mmi.` service.
//!
//! The port: the broker is the reactor's state, lent to the ROUTER's
//! callback and to a `LoopingCall` every heartbeat interval (the original's
//! poll timeout, after which it purges expired workers and sends
//! heartbeats). Times are the reactor's clock. A message that breaks the
//! protocol is logged and dropped (the original asserts).
//!
//! Where it differs from the Python original, and why: the original has
//! slips its C model has not, and the port follows the C model there. A
//! worker is removed from both waiting lists when deleted (the original
//! leaves it in the broker's list, and fails on a busy worker); READY is
//! refused for a service, not a worker address, starting with `mmi.`; and
//! `mmi.service` says `200` only while the service has a worker (the
//! original: once anyone has named it), which is what `titanic` needs to
//! hold requests for a service that is down.
//!
//! ```sh
//! cargo run --example mdbroker -- [-v] [--bind tcp://*:5555]
//! ```
//!
//! Prints `YYYY-MM-DD HH:MM:SS I: MDP broker/0.1.1 is active at
//! tcp://*:5555`, and `I: deleting expired worker: <hex id>` for each
//! worker it gives up on; with `-v`, every message in and out.

use std::collections::{HashMap, VecDeque};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{
    bytes_repr, Frame, Multipart, ZmqEndpoint, ZmqFactory, ZmqOptions, ZmqRouterConnection,
};
use tx0mq::{LoopingCall, Reactor};

mod mdp;
mod pyport;

use mdp::{dump, log, Message};

type Socket = ZmqRouterConnection<Broker>;

/// A single service.
#[derive(Default)]
struct Service {
    /// Client requests, `[client, "", body...]`, oldest first.
    requests: VecDeque<Message>,
    /// Its idle workers' addresses, idle longest first.
    waiting: VecDeque<Vec<u8>>,
}

/// A worker, idle or active.
struct Worker {
    /// Its address, in hex, for logs.
    identity: String,
    /// The service it offers, once READY.
    service: Option<Vec<u8>>,
    /// It expires at this time (reactor clock), unless it heartbeats.
    expiry: Duration,
}

/// The broker: the reactor's state.
struct Broker {
    verbose: bool,
    services: HashMap<Vec<u8>, Service>,
    workers: HashMap<Vec<u8>, Worker>,
    /// Idle workers' addresses, idle longest first.
    waiting: VecDeque<Vec<u8>>,
}

impl Broker {
    /// A message from `sender`: `["", header, ...]`.
    fn mediate(&mut self, socket: &Socket, now: Duration, sender: Frame, msg: Multipart) {
        if self.verbose {
            log("I: received message:");
            let mut all = vec![sender.to_vec()];
            all.extend(mdp::frames(&msg));
            dump(&all);
        }
        match &msg[..] {
            [empty, header, rest @ ..] if empty.is_empty() && header[..] == *mdp::C_CLIENT => {
                self.process_client(socket, now, &sender, mdp::frames(rest));
            }
            [empty, header, rest @ ..] if empty.is_empty() && header[..] == *mdp::W_WORKER => {
                self.process_worker(socket, now, &sender, mdp::frames(rest));
            }
            _ => {
                log("E: invalid message:");
                dump(&msg);
            }
        }
    }

    /// A request from a client: `[service, body...]`.
    fn process_client(&mut self, socket: &Socket, now: Duration, sender: &[u8], mut msg: Message) {
        if msg.len() < 2 {
            log("E: invalid message (a request needs a service and a body):");
            dump(&msg);
            return;
        }
        let service = msg.remove(0);
        // Set reply return address to client sender
        let mut request = vec![sender.to_vec(), Vec::new()];
        request.extend(msg);
        if service.starts_with(mdp::INTERNAL_SERVICE_PREFIX) {
            self.service_internal(socket, &service, request);
        } else {
            self.services.entry(service.clone()).or_default();
            self.dispatch(socket, now, &service, Some(request));
        }
    }

    /// A message from a worker: `[command, ...]`.
    fn process_worker(&mut self, socket: &Socket, now: Duration, sender: &[u8], mut msg: Message) {
        if msg.is_empty() {
            log("E: invalid message (no command):");
            return;
        }
        let command = msg.remove(0);
        let worker_ready = self.workers.contains_key(sender);
        self.require_worker(sender, now);
        match &command[..] {
            mdp::W_READY => {
                let service = msg.first().cloned();
                match service {
                    // Not first command in session, no service, or reserved service name
                    Some(service)
                        if !worker_ready && !service.starts_with(mdp::INTERNAL_SERVICE_PREFIX) =>
                    {
                        // Attach worker to service and mark as idle
                        self.services.entry(service.clone()).or_default();
                        if let Some(worker) = self.workers.get_mut(sender) {
                            worker.service = Some(service);
                        }
                        self.worker_waiting(socket, now, sender);
                    }
                    _ => self.delete_worker(socket, sender, true),
                }
            }
            mdp::W_REPLY => {
                let service = self.workers.get(sender).and_then(|w| w.service.clone());
                match (worker_ready, service, &msg[..]) {
                    (true, Some(service), [client, empty, body @ ..]) if empty.is_empty() => {
                        // Rewrap: [client, "", MDPC01, service, body...]
                        let mut reply = vec![Vec::new(), mdp::C_CLIENT.to_vec(), service];
                        reply.extend(body.iter().cloned());
                        send(socket, client, reply);
                        self.worker_waiting(socket, now, sender);
                    }
                    _ => self.delete_worker(socket, sender, true),
                }
            }
            mdp::W_HEARTBEAT => {
                if worker_ready {
                    if let Some(worker) = self.workers.get_mut(sender) {
                        worker.expiry = now + mdp::HEARTBEAT_EXPIRY;
                    }
                } else {
                    self.delete_worker(socket, sender, true);
                }
            }
            mdp::W_DISCONNECT => self.delete_worker(socket, sender, false),
            _ => {
                log("E: invalid message:");
                dump(&msg);
            }
        }
    }

    /// Deletes the worker from all data structures (and tells it so when
    /// `disconnect`).
    fn delete_worker(&mut self, socket: &Socket, address: &[u8], disconnect: bool) {
        if disconnect {
            self.send_to_worker(socket, address, mdp::W_DISCONNECT, Vec::new());
        }
        if let Some(worker) = self.workers.remove(address) {
            if let Some(service) = worker.service.and_then(|s| self.services.get_mut(&s)) {
                service.waiting.retain(|w| w != address);
            }
        }
        self.waiting.retain(|w| w != address);
    }

    /// Finds the worker, registering it if new.
    fn require_worker(&mut self, address: &[u8], now: Duration) {
        if !self.workers.contains_key(address) {
            let identity: String = address.iter().map(|b| format!("{b:02x}")).collect();
            if self.verbose {
                log(format_args!("I: registering new worker: {identity}"));
            }
            let worker = Worker {
                identity,
                service: None,
                expiry: now + mdp::HEARTBEAT_EXPIRY,
            };
            self.workers.insert(address.to_vec(), worker);
        }
    }

    /// An internal service (8/MMI): `[client, "", body...]`, answered with
    /// the last body frame replaced by the return code.
    fn service_internal(&mut self, socket: &Socket, service: &[u8], mut msg: Message) {
        let code: &[u8] = if service == b"mmi.service" {
            let name = msg.last().cloned().unwrap_or_default();
            let has_worker = self
                .workers
                .values()
                .any(|w| w.service.as_deref() == Some(&name[..]));
            if has_worker {
                b"200"
            } else {
                b"400"
            }
        } else {
            b"501"
        };
        if let Some(last) = msg.last_mut() {
            *last = code.to_vec();
        }
        // [client, "", MDPC01, service, code]
        let client = msg.remove(0);
        msg.insert(1, mdp::C_CLIENT.to_vec());
        msg.insert(2, service.to_vec());
        send(socket, &client, msg);
    }

    /// Sends heartbeats to idle workers (every heartbeat interval).
    fn send_heartbeats(&mut self, socket: &Socket) {
        for worker in self.waiting.clone() {
            self.send_to_worker(socket, &worker, mdp::W_HEARTBEAT, Vec::new());
        }
    }

    /// Forgets expired idle workers, oldest first, stopping at the first
    /// one alive.
    fn purge_workers(&mut self, socket: &Socket, now: Duration) {
        while let Some(address) = self.waiting.front().cloned() {
            let Some(worker) = self.workers.get(&address) else {
                self.waiting.pop_front();
                continue;
            };
            if worker.expiry >= now {
                break;
            }
            log(format_args!(
                "I: deleting expired worker: {}",
                worker.identity
            ));
            self.delete_worker(socket, &address, false);
        }
    }

    /// The worker is now waiting for work.
    fn worker_waiting(&mut self, socket: &Socket, now: Duration, address: &[u8]) {
        let Some(service) = self.workers.get_mut(address).and_then(|worker| {
            worker.expiry = now + mdp::HEARTBEAT_EXPIRY;
            worker.service.clone()
        }) else {
            return;
        };
        // Queue to broker and service waiting lists
        self.waiting.push_back(address.to_vec());
        self.services
            .entry(service.clone())
            .or_default()
            .waiting
            .push_back(address.to_vec());
        self.dispatch(socket, now, &service, None);
    }

    /// Queues `msg`, if any, on the service, then hands its requests to its
    /// waiting workers as far as they go.
    fn dispatch(&mut self, socket: &Socket, now: Duration, service: &[u8], msg: Option<Message>) {
        if let Some(msg) = msg {
            self.services
                .entry(service.to_vec())
                .or_default()
                .requests
                .push_back(msg);
        }
        self.purge_workers(socket, now);
        loop {
            let Some(entry) = self.services.get_mut(service) else {
                return;
            };
            if entry.waiting.is_empty() || entry.requests.is_empty() {
                return;
            }
            let (Some(msg), Some(worker)) = (entry.requests.pop_front(), entry.waiting.pop_front())
            else {
                return;
            };
            self.waiting.retain(|w| *w != worker);
            self.send_to_worker(socket, &worker, mdp::W_REQUEST, msg);
        }
    }

    /// Sends `[worker, "", MDPW01, command, body...]`.
    fn send_to_worker(&self, socket: &Socket, worker: &[u8], command: &[u8], body: Message) {
        let mut msg = vec![Vec::new(), mdp::W_WORKER.to_vec(), command.to_vec()];
        msg.extend(body);
        if self.verbose {
            log(format_args!("I: sending {} to worker", bytes_repr(command)));
            let mut all = vec![worker.to_vec()];
            all.extend(msg.iter().cloned());
            dump(&all);
        }
        send(socket, worker, msg);
    }
}

/// Sends to a peer; a failure (the socket closing) is logged.
fn send(socket: &Socket, to: &[u8], msg: Message) {
    if let Err(e) = socket.send_msg(to, msg) {
        log(format_args!("E: cannot send: {e}"));
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::with_state(Broker {
        verbose: args.verbose,
        services: HashMap::new(),
        workers: HashMap::new(),
        waiting: VecDeque::new(),
    })?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let options = ZmqOptions::new().linger(Duration::ZERO);
    let endpoints: Vec<ZmqEndpoint> = args.bind.iter().map(ZmqEndpoint::bind).collect();
    let socket: Socket = ZmqRouterConnection::with_options(&factory, endpoints, &options)?;
    for endpoint in &args.bind {
        log(format_args!("I: MDP broker/0.1.1 is active at {endpoint}"));
    }
    socket.got_message(|cx, sender, msg| {
        let now = cx.reactor.seconds();
        cx.state.mediate(cx.conn, now, sender, msg);
    });
    let heartbeat_socket = socket.clone();
    let heartbeats = LoopingCall::new(&reactor, move |cx| {
        let now = cx.reactor.seconds();
        cx.state.purge_workers(&heartbeat_socket, now);
        cx.state.send_heartbeats(&heartbeat_socket);
    });
    heartbeats.start(mdp::HEARTBEAT_INTERVAL, false)?;
    reactor.run()?;
    Ok(())
}

/// Majordomo broker (zguide's mdbroker.py).
#[derive(Parser)]
struct Args {
    /// Print every message in and out
    #[arg(short, long)]
    verbose: bool,
    /// Endpoint to bind (repeat for more)
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:5555")]
    bind: Vec<String>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
