//! `peering3.py`, the zguide's full broker peering simulation (chapter 3,
//! "Inter-Broker Routing", "Putting it All Together"): run as `peering3.py
//! <me> <peer_1> ... <peer_N>` (without arguments it prints the usage line
//! and exits 1), each broker combines `peering1`'s state flow and
//! `peering2`'s request-reply flow. It binds a ROUTER for its clients
//! (`ipc://<me>-localfe.ipc`), one for its workers (`...-localbe.ipc`), one
//! for its peers' requests (`...-cloud.ipc`), a PUB for its state
//! (`...-state.ipc`) and a PULL for its clients' reports
//! (`...-monitor.ipc`); it connects a ROUTER named `<me>` to each peer's
//! cloud endpoint and a SUB to each peer's state. It starts five worker
//! threads (each answers a request with itself after 0 or 1 second) and ten
//! client threads (each sleeps 0 to 5 seconds, then sends 0 to 15 random
//! task ids one by one, reporting each reply, or after ten seconds of
//! silence `E: CLIENT EXIT - lost task <id>`, to the monitor). The broker
//! prints every report; routes replies back to the client or the peer they
//! are addressed to; routes requests to a local worker while one is ready
//! (the peers' requests only then), else the clients' to a random peer
//! while the peers last said they had capacity; and publishes its local
//! capacity (`[<me>, "<n>"]`) whenever a pass changed it.
//!
//! The port: the seven sockets are connections in the reactor, sharing the
//! ready workers and the peers' last capacity as the reactor's state. The
//! frontends are paused and resumed as the capacities allow (the clients'
//! while there is local or cloud capacity, the peers' while there is local
//! capacity), where the original builds a poller for them on each pass.
//! The state is published once per reactor pass in which the local
//! capacity changed: a change schedules a zero-delay call, which publishes
//! the capacity it finds, if it differs from the one last published. The
//! threads keep their blocking sockets, each on a context of its own.
//!
//! ```sh
//! cargo run --example peering3 -- DC1 DC2 DC3 &
//! cargo run --example peering3 -- DC2 DC1 DC3 &
//! cargo run --example peering3 -- DC3 DC1 DC2
//! ```
//!
//! Prints `I: preparing broker at DC1...`, `I: connecting to cloud
//! frontend at DC2`, `I: connecting to state backend at DC2`, then each
//! task id a client got back (`0A3F`), or `E: CLIENT EXIT - lost task
//! 0A3F`. Runs until interrupted. Binds its ipc files in the current
//! directory, as the original does. Flags: `--clients N` (10), `--workers
//! N` (5), `--seed N` (the random choices of the broker and its threads).

use std::collections::VecDeque;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{
    bytes_repr, zmq, Error, Frame, Multipart, ZmqConnection, ZmqContext, ZmqEndpoint, ZmqFactory,
    ZmqOptions, ZmqRouterConnection, ZmqSubConnection,
};
use tx0mq::{Ctx, Reactor};

mod pyport;
use pyport::Random;

/// How long a client waits for a reply before it gives up.
const CLIENT_PATIENCE: Duration = Duration::from_secs(10);

/// Request-reply client using a REQ socket, reporting to the monitor.
fn client_task(name: &str, i: usize, mut random: Random) -> zmq::Result<()> {
    let ctx = ZmqContext::new();
    let client = ctx.socket(zmq::REQ)?;
    client.set_identity(format!("Client-{name}-{i}").as_bytes())?;
    client.connect(&format!("ipc://{name}-localfe.ipc"))?;
    let monitor = ctx.socket(zmq::PUSH)?;
    monitor.connect(&format!("ipc://{name}-monitor.ipc"))?;

    loop {
        let pause = random.randint(0, 5).unsigned_abs();
        thread::sleep(Duration::from_secs(pause));
        for _ in 0..random.randint(0, 15) {
            // send request with random hex ID
            let task_id = format!("{:04X}", random.randint(0, 10000));
            client.send(task_id.as_str(), 0)?;

            // wait max 10 seconds for a reply, then complain
            let mut items = [client.as_poll_item(zmq::POLLIN)];
            let millis = i64::try_from(CLIENT_PATIENCE.as_millis()).unwrap_or(i64::MAX);
            if zmq::poll(&mut items, millis)? > 0 {
                let reply = client.recv_bytes(0)?;
                if reply != task_id.as_bytes() {
                    let line = format!("E: expected {task_id}, got {}", bytes_repr(&reply));
                    monitor.send(line.as_str(), 0)?;
                    return Ok(());
                }
                monitor.send(reply, 0)?;
            } else {
                let line = format!("E: CLIENT EXIT - lost task {task_id}");
                monitor.send(line.as_str(), 0)?;
                return Ok(());
            }
        }
    }
}

/// Worker using a REQ socket to do load balancing.
fn worker_task(name: &str, i: usize, mut random: Random) -> zmq::Result<()> {
    let ctx = ZmqContext::new();
    let worker = ctx.socket(zmq::REQ)?;
    worker.set_identity(format!("Worker-{name}-{i}").as_bytes())?;
    worker.connect(&format!("ipc://{name}-localbe.ipc"))?;

    // Tell broker we're ready for work
    worker.send("READY", 0)?;

    // Process messages as they arrive
    loop {
        let msg = worker.recv_multipart(0)?;
        // Workers are busy for 0/1 seconds
        thread::sleep(Duration::from_secs(random.randint(0, 1).unsigned_abs()));
        worker.send_multipart(msg, 0)?;
    }
}

/// The broker's state.
struct Broker {
    myself: String,
    /// Local workers ready for a request (the local capacity).
    workers: VecDeque<Frame>,
    /// What a peer last said of its capacity.
    cloud_capacity: u64,
    /// The peers' names, which are their cloud sockets' identities.
    peers: Vec<Vec<u8>>,
    random: Random,
    /// The local capacity last published.
    published: usize,
    /// Whether a publication is scheduled for the end of this pass.
    publishing: bool,
}

/// The broker's sockets that callbacks send on or pause.
#[derive(Clone)]
struct Sockets {
    localfe: ZmqRouterConnection<Broker>,
    localbe: ZmqRouterConnection<Broker>,
    cloudfe: ZmqRouterConnection<Broker>,
    cloudbe: ZmqRouterConnection<Broker>,
    statebe: ZmqConnection<Broker>,
}

/// Reads the frontends as the capacities allow: the clients' while there is
/// local or cloud capacity, the peers' while there is local capacity.
fn poll_frontends(sockets: &Sockets, broker: &Broker) {
    let local = !broker.workers.is_empty();
    let cloud = broker.cloud_capacity > 0 && !broker.peers.is_empty();
    let set = |conn: &ZmqRouterConnection<Broker>, on: bool| {
        if on {
            conn.resume_reading();
        } else {
            conn.pause_reading();
        }
    };
    set(&sockets.localfe, local || cloud);
    set(&sockets.cloudfe, local);
}

/// The local capacity changed: publish it once this pass is over, if it is
/// still not the one last published.
fn capacity_changed(cx: &mut Ctx<'_, Broker>, sockets: &Sockets) {
    poll_frontends(sockets, cx.state);
    if std::mem::replace(&mut cx.state.publishing, true) {
        return;
    }
    let statebe = sockets.statebe.clone();
    cx.reactor.call_later(Duration::ZERO, move |cx| {
        let broker = &mut *cx.state;
        broker.publishing = false;
        let capacity = broker.workers.len();
        if capacity == broker.published {
            return Ok(());
        }
        broker.published = capacity;
        statebe.send([broker.myself.as_str(), capacity.to_string().as_str()])
    });
}

/// Sends a reply `[address, rest...]` on: to the cloud if it is addressed to
/// a broker, else to the client.
fn route_reply(sockets: &Sockets, broker: &Broker, msg: &[Frame]) -> Result<(), Error> {
    let Some((address, rest)) = msg.split_first() else {
        return Ok(());
    };
    let rest: Multipart = rest.iter().collect();
    if broker.peers.iter().any(|peer| peer[..] == address[..]) {
        sockets.cloudfe.send_msg(address, rest)
    } else {
        sockets.localfe.send_msg(address, rest)
    }
}

/// Routes a request `[sender, parts...]`: locally if we can, else (a
/// client's, never a peer's) to the cloud.
fn route_request(
    cx: &mut Ctx<'_, Broker>,
    sockets: &Sockets,
    sender: Frame,
    parts: Multipart,
    from_cloud: bool,
) -> Result<(), Error> {
    let mut msg = Multipart::with_capacity(parts.len() + 2);
    msg.push(b"");
    msg.push(sender);
    msg.extend(parts);
    if let Some(worker) = cx.state.workers.pop_front() {
        sockets.localbe.send_msg(&worker, msg)?;
        capacity_changed(cx, sockets);
        return Ok(());
    }
    // Route to random broker peer
    let broker = &mut *cx.state;
    match broker.random.choice(&broker.peers) {
        Some(peer) if !from_cloud => sockets.cloudbe.send_msg(peer, msg),
        _ => {
            log::warn!("dropped a request: no capacity anywhere");
            Ok(())
        }
    }
}

/// A generator for a thread (or the broker), seeded from `random`: each
/// draws from its own, and `--seed` makes them all repeatable.
fn thread_random(random: &mut Random) -> Random {
    Random::seeded(random.randint(0, i64::MAX - 1).unsigned_abs())
}

/// Splits `["", rest...]` into `rest`.
fn after_delimiter(parts: &Multipart) -> Option<&[Frame]> {
    match &parts[..] {
        [empty, rest @ ..] if empty.is_empty() && !rest.is_empty() => Some(rest),
        _ => None,
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let Some(myself) = args.me else {
        println!("Usage: peering3 <me> [<peer_1> [... <peer_N>]]");
        return Err("no name given for this broker".into());
    };
    println!("I: preparing broker at {myself}...");

    let mut random = Random::from_seed(args.seed);
    let reactor = Reactor::with_state(Broker {
        myself: myself.clone(),
        workers: VecDeque::new(),
        cloud_capacity: 0,
        peers: args.peers.iter().map(|p| p.as_bytes().to_vec()).collect(),
        random: thread_random(&mut random),
        published: 0,
        publishing: false,
    })?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let named = ZmqOptions::new().identity(&myself);

    // Bind cloud frontend to endpoint
    let cloud = ZmqEndpoint::bind(format!("ipc://{myself}-cloud.ipc"));
    let cloudfe = ZmqRouterConnection::with_options(&factory, cloud, &named)?;
    // Bind state backend / publisher to endpoint
    let state = ZmqEndpoint::bind(format!("ipc://{myself}-state.ipc"));
    let statebe = ZmqConnection::new(&factory, zmq::PUB, state)?;
    // Connect cloud and state backends to all peers
    let (mut clouds, mut states) = (Vec::new(), Vec::new());
    for peer in &args.peers {
        println!("I: connecting to cloud frontend at {peer}");
        clouds.push(ZmqEndpoint::connect(format!("ipc://{peer}-cloud.ipc")));
        println!("I: connecting to state backend at {peer}");
        states.push(ZmqEndpoint::connect(format!("ipc://{peer}-state.ipc")));
    }
    let cloudbe = ZmqRouterConnection::with_options(&factory, clouds, &named)?;
    let statefe = ZmqSubConnection::new(&factory, states)?;
    statefe.subscribe(b"")?;
    // Prepare local frontend and backend
    let at = ZmqEndpoint::bind(format!("ipc://{myself}-localfe.ipc"));
    let localfe = ZmqRouterConnection::new(&factory, at)?;
    let at = ZmqEndpoint::bind(format!("ipc://{myself}-localbe.ipc"));
    let localbe = ZmqRouterConnection::new(&factory, at)?;
    // Prepare monitor socket
    let at = ZmqEndpoint::bind(format!("ipc://{myself}-monitor.ipc"));
    let monitor = ZmqConnection::new(&factory, zmq::PULL, at)?;

    let sockets = Sockets {
        localfe,
        localbe,
        cloudfe,
        cloudbe,
        statebe,
    };
    // No capacity yet: the frontends wait.
    sockets.localfe.pause_reading();
    sockets.cloudfe.pause_reading();

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
            route_reply(&s, cx.state, msg)?;
        }
        capacity_changed(&mut cx.ctx(), &s);
        Ok::<(), Error>(())
    });
    // Handle reply from a peer broker (whose address we don't use)
    let s = sockets.clone();
    sockets.cloudbe.got_message(move |cx, peer, parts| {
        let Some(msg) = after_delimiter(&parts) else {
            log::warn!("dropped a malformed message from {}", bytes_repr(&peer));
            return Ok(());
        };
        route_reply(&s, cx.state, msg)
    });
    // Handle capacity updates (raw frames: [peer, capacity])
    let s = sockets.clone();
    statefe.message_received(move |cx, msg| {
        let capacity = match &msg[..] {
            [_peer, capacity] => std::str::from_utf8(capacity)
                .ok()
                .and_then(|text| text.trim().parse::<u64>().ok()),
            _ => None,
        };
        match capacity {
            Some(capacity) => {
                cx.state.cloud_capacity = capacity;
                poll_frontends(&s, cx.state);
            }
            None => log::warn!(
                "dropped a state message that is not [peer, capacity]: {}",
                pyport::bytes_list_repr(&msg)
            ),
        }
    });
    // Handle monitor message
    monitor.message_received(|_cx, msg| {
        println!("{}", String::from_utf8_lossy(pyport::first(&msg)));
    });
    // Route requests: the peers' (read only with local capacity) and the
    // clients'.
    let s = sockets.clone();
    sockets
        .cloudfe
        .got_message(move |cx, peer, parts| route_request(&mut cx.ctx(), &s, peer, parts, true));
    let s = sockets.clone();
    sockets.localfe.got_message(move |cx, client, parts| {
        route_request(&mut cx.ctx(), &s, client, parts, false)
    });

    // create workers and clients threads
    for i in 0..args.workers {
        let (name, random) = (myself.clone(), thread_random(&mut random));
        thread::spawn(move || {
            if let Err(e) = worker_task(&name, i, random) {
                log::error!("Worker-{i}: {e}");
            }
        });
    }
    for i in 0..args.clients {
        let (name, random) = (myself.clone(), thread_random(&mut random));
        thread::spawn(move || {
            if let Err(e) = client_task(&name, i, random) {
                log::error!("Client-{i}: {e}");
            }
        });
    }

    reactor.run()?;
    Ok(())
}

/// Broker peering: state flow and request-reply flow together (zguide's
/// peering3.py).
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
    #[arg(long, value_name = "N", default_value_t = 5)]
    workers: usize,
    /// Seed of the random choices [default: from the clock]
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
