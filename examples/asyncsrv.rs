//! `asyncsrv.py`, the zguide's asynchronous client/server (chapter 3, "The
//! Asynchronous Client/Server Pattern"): client threads with DEALER sockets
//! (identities `worker-N`) each send a request, then poll five times, a
//! second at most each, printing the replies, and so on; the server joins a
//! ROUTER bound to `tcp://*:5570` and a DEALER on `inproc://backend` with
//! `zmq.proxy`, and its five worker threads answer each request zero to
//! four times, sleeping between replies. It runs until killed.
//!
//! The port: the server's ROUTER and DEALER are connections in the reactor,
//! proxying to each other. The workers sleep between replies, so they are
//! threads with blocking DEALER sockets on `inproc://backend`, as in the
//! original. The clients are DEALER connections in the reactor: each one's
//! progress (request number, polls done, the one-second poll timer) lives in
//! the reactor's state, which the timers and the connections' callbacks
//! share. A request is followed by five "polls", each ending with a reply or
//! with one second of silence, then the next request, as in the original.
//!
//! ```sh
//! cargo run --example asyncsrv                  # runs until Ctrl-C
//! cargo run --example asyncsrv -- --duration-ms 5000
//! ```
//!
//! Prints `Client worker-N started`, `Worker started`, `Req #N sent..`,
//! `Worker received b'request #N' from b'worker-N'` and `Client worker-N
//! received: b'request #N'`. Flags: `--duration-ms MS` (default: forever),
//! `--clients N` (3), `--bind ENDPOINT` (`tcp://*:5570`), `--connect
//! ENDPOINT` (where clients connect, `tcp://localhost:5570`).

use std::hash::BuildHasher;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{
    bytes_repr, proxy, zmq, Error, ZmqConnection, ZmqContext, ZmqDealerConnection, ZmqEndpoint,
    ZmqFactory, ZmqOptions,
};
use tx0mq::{DelayedCall, Reactor};

mod pyport;

/// How long one poll waits for a reply.
const POLL_TIMEOUT: Duration = Duration::from_secs(1);
/// Polls per request.
const POLLS: u32 = 5;

/// A random number in `low..=high` (std has no generator; each `RandomState` is keyed anew).
fn randint(low: u64, high: u64) -> u64 {
    let span = high.saturating_sub(low).saturating_add(1);
    low + std::collections::hash_map::RandomState::new().hash_one(()) % span
}

/// A server worker thread: answers each request 0 to 4 times, with pauses.
fn server_worker(context: &ZmqContext) -> zmq::Result<()> {
    let worker = context.socket(zmq::DEALER)?;
    worker.connect("inproc://backend")?;
    println!("Worker started");
    loop {
        let [ident, msg] = &worker.recv_multipart(0)?[..] else {
            log::warn!("worker: dropped a message that is not [identity, request]");
            continue;
        };
        println!(
            "Worker received {} from {}",
            bytes_repr(msg),
            bytes_repr(ident)
        );
        for _ in 0..randint(0, 4) {
            thread::sleep(Duration::from_secs_f64(1.0 / randint(1, 10) as f64));
            worker.send_multipart([ident, msg], 0)?;
        }
    }
}

/// One client, as the original's `ClientTask` keeps it in its locals.
struct Client {
    identity: String,
    socket: ZmqDealerConnection<Clients>,
    reqs: u32,
    polls: u32,
    poll_timer: Option<DelayedCall>,
}

/// The reactor's state: every client's progress.
type Clients = Vec<Client>;

/// Sends client `i`'s next request and starts its first poll.
fn send_request(reactor: &Reactor<Clients>, clients: &mut Clients, i: usize) -> Result<(), Error> {
    let client = &mut clients[i];
    client.reqs += 1;
    println!("Req #{} sent..", client.reqs);
    client.polls = 0;
    client
        .socket
        .send_msg(format!("request #{}", client.reqs))?;
    start_poll(reactor, clients, i);
    Ok(())
}

/// Starts one poll of client `i`: it ends with a reply or after a second.
fn start_poll(reactor: &Reactor<Clients>, clients: &mut Clients, i: usize) {
    let timer = reactor.call_later(POLL_TIMEOUT, move |cx| poll_done(cx.reactor, cx.state, i));
    if let Some(previous) = clients[i].poll_timer.replace(timer) {
        let _ = previous.cancel(); // already fired if this poll timed out
    }
}

/// One poll of client `i` ended; after five, the next request.
fn poll_done(reactor: &Reactor<Clients>, clients: &mut Clients, i: usize) -> Result<(), Error> {
    clients[i].polls += 1;
    if clients[i].polls == POLLS {
        send_request(reactor, clients, i)
    } else {
        start_poll(reactor, clients, i);
        Ok(())
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::with_state(Clients::new())?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // The server: a ROUTER for clients, a DEALER for workers, and five workers.
    let frontend = ZmqConnection::new(&factory, zmq::ROUTER, ZmqEndpoint::bind(&args.bind))?;
    let backend = ZmqConnection::new(&factory, zmq::DEALER, ZmqEndpoint::bind("inproc://backend"))?;
    for _ in 0..5 {
        let context = factory.context()?;
        thread::spawn(move || {
            if let Err(e) = server_worker(&context) {
                log::error!("worker: {e}");
            }
        });
    }
    proxy(&frontend, &backend);

    // The clients.
    for i in 0..args.clients {
        let identity = format!("worker-{i}");
        let socket = ZmqDealerConnection::with_options(
            &factory,
            ZmqEndpoint::connect(&args.connect),
            &ZmqOptions::new().identity(&identity),
        )?;
        println!("Client {identity} started");
        socket.got_message(move |cx, msg| {
            if let Some(msg) = msg.first() {
                println!(
                    "Client {} received: {}",
                    cx.state[i].identity,
                    bytes_repr(msg)
                );
            }
            poll_done(cx.reactor, cx.state, i)
        });
        reactor.access_state(|clients| {
            clients.push(Client {
                identity,
                socket,
                reqs: 0,
                polls: 0,
                poll_timer: None,
            })
        })?;
        reactor.call_when_running(move |cx| send_request(cx.reactor, cx.state, i));
    }

    if let Some(duration) = args.duration {
        reactor.call_later(duration, |cx| cx.reactor.stop());
    }
    reactor.run()?;
    Ok(())
}

/// Asynchronous clients and a server with worker threads (zguide's
/// asyncsrv.py).
#[derive(Parser)]
struct Args {
    /// Stop after this many milliseconds [default: run forever]
    #[arg(long = "duration-ms", value_name = "MS", value_parser = pyport::millis)]
    duration: Option<Duration>,
    /// Client connections
    #[arg(long, value_name = "N", default_value_t = 3)]
    clients: usize,
    /// Endpoint of the server's ROUTER
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:5570")]
    bind: String,
    /// Endpoint the clients connect to
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://localhost:5570")]
    connect: String,
}

fn main() -> ExitCode {
    pyport::main(run)
}
