//! `ppqueue.py`, the zguide's Paranoid Pirate queue (chapter 4, "Robust
//! Reliable Queuing (Paranoid Pirate Pattern)"): the Simple Pirate queue
//! plus heartbeats. A ROUTER bound to `tcp://*:5555` takes the clients'
//! requests (Lazy Pirate clients), a ROUTER bound to `tcp://*:5556` the
//! workers' (`ppworker`, DEALER sockets). A worker is ready when it says
//! `PPP_READY` (`"\x01"`), sends a heartbeat (`PPP_HEARTBEAT`, `"\x02"`) or
//! returns a reply; it stays ready for `HEARTBEAT_LIVENESS` (3) times
//! `HEARTBEAT_INTERVAL` (1 s) unless it is heard from again, and is then
//! purged ("expired"). The queue sends each ready worker a heartbeat once a
//! second, hands each request to the worker ready longest, and reads the
//! frontend only while a worker is ready.
//!
//! The port: two `ZmqRouterConnection`s share the ready workers (address
//! and expiry, in order of readiness) as the reactor's state. The frontend
//! is paused while no worker is ready. The original's once-a-second poll
//! timeout, after which it heartbeats and purges, is a `LoopingCall` every
//! `HEARTBEAT_INTERVAL`; a request is also preceded by a purge, so it never
//! goes to a worker already past its expiry. Expiries are on the reactor's
//! clock.
//!
//! ```sh
//! cargo run --example ppqueue &
//! cargo run --example ppworker &
//! cargo run --example lpclient
//! ```
//!
//! Prints `W: Idle worker expired: b'1A2B-3C4D'` when a worker falls
//! silent, and `E: Invalid message from worker: [b'\x05']` for a one-frame
//! message that is neither signal. Flags: `--frontend` (`tcp://*:5555`),
//! `--backend` (`tcp://*:5556`).

use std::collections::VecDeque;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::ZmqRouterConnection;
use tx0mq::connections::{bytes_repr, Error, Frame, Multipart, ZmqEndpoint, ZmqFactory};
use tx0mq::{Ctx, LoopingCall, Reactor};

mod pirates;
mod pyport;
use pirates::{HEARTBEAT_INTERVAL, HEARTBEAT_LIVENESS, PPP_HEARTBEAT, PPP_READY};

/// A ready worker: its address, and when it expires unless heard from.
struct Worker {
    address: Vec<u8>,
    expiry: Duration,
}

/// The ready workers, the one ready longest first (the original's
/// `WorkerQueue`, an ordered dict).
#[derive(Default)]
struct WorkerQueue {
    queue: VecDeque<Worker>,
}

impl WorkerQueue {
    /// `worker` is ready (again): it goes to the back, with a new expiry.
    fn ready(&mut self, address: &[u8], now: Duration) {
        self.queue.retain(|w| w.address != address);
        self.queue.push_back(Worker {
            address: address.to_vec(),
            expiry: now + HEARTBEAT_INTERVAL * HEARTBEAT_LIVENESS,
        });
    }

    /// Looks for and kills expired workers.
    fn purge(&mut self, now: Duration) {
        self.queue.retain(|worker| {
            let alive = now <= worker.expiry;
            if !alive {
                println!("W: Idle worker expired: {}", bytes_repr(&worker.address));
            }
            alive
        });
    }

    /// The worker ready longest, taken off the queue.
    fn next(&mut self) -> Option<Vec<u8>> {
        self.queue.pop_front().map(|w| w.address)
    }
}

/// Purges, then sets the frontend's reading to whether a worker is ready.
fn purge(cx: &mut Ctx<'_, WorkerQueue>, frontend: &ZmqRouterConnection<WorkerQueue>) {
    let now = cx.reactor.seconds();
    cx.state.purge(now);
    if cx.state.queue.is_empty() {
        frontend.pause_reading();
    } else {
        frontend.resume_reading();
    }
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let reactor = Reactor::with_state(WorkerQueue::default())?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let frontend = ZmqRouterConnection::new(&factory, ZmqEndpoint::bind(&args.frontend))?; // For clients
    let backend = ZmqRouterConnection::new(&factory, ZmqEndpoint::bind(&args.backend))?; // For workers

    // No worker yet: poll the workers only.
    frontend.pause_reading();

    // Handle worker activity on backend
    let to_clients = frontend.clone();
    backend.got_message(move |cx, address: Frame, msg: Multipart| {
        // Use worker address for load balancing
        let now = cx.reactor.seconds();
        cx.state.ready(&address, now);
        to_clients.resume_reading();

        // Validate control message, or return reply to client
        match &msg[..] {
            [signal] => {
                if signal[..] != *PPP_READY && signal[..] != *PPP_HEARTBEAT {
                    println!(
                        "E: Invalid message from worker: {}",
                        pyport::bytes_list_repr(&msg)
                    );
                }
            }
            [client, reply @ ..] if !reply.is_empty() => {
                to_clients.send_msg(client, reply.iter().collect::<Multipart>())?;
            }
            _ => log::warn!(
                "dropped an empty message from worker {}",
                bytes_repr(&address)
            ),
        }
        Ok::<(), Error>(())
    });

    // A client's request goes to the worker ready longest.
    let to_workers = backend.clone();
    frontend.got_message(move |cx, client: Frame, msg: Multipart| {
        let conn = cx.conn.clone();
        purge(&mut cx.ctx(), &conn);
        let Some(worker) = cx.state.next() else {
            log::warn!(
                "dropped a request from {}: no worker is ready",
                bytes_repr(&client)
            );
            return Ok(());
        };
        let mut frames = Multipart::with_capacity(msg.len() + 1);
        frames.push(client);
        frames.extend(msg);
        to_workers.send_msg(&worker, frames)?;
        if cx.state.queue.is_empty() {
            cx.conn.pause_reading();
        }
        Ok::<(), Error>(())
    });

    // Once a heartbeat interval: heartbeats to the idle workers, then a purge.
    let (heartbeat_to, purged) = (backend.clone(), frontend.clone());
    let heartbeat = LoopingCall::new(&reactor, move |cx: &mut Ctx<'_, WorkerQueue>| {
        for worker in &cx.state.queue {
            heartbeat_to.send_msg(&worker.address, [PPP_HEARTBEAT])?;
        }
        purge(cx, &purged);
        Ok::<(), Error>(())
    });
    heartbeat.start(HEARTBEAT_INTERVAL, false)?;

    reactor.run()?;
    Ok(())
}

/// Paranoid Pirate queue: load-balances Lazy Pirate clients over workers,
/// with heartbeats both ways (zguide's ppqueue.py).
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
