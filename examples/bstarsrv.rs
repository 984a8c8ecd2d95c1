//! `bstarsrv.py`, the zguide's Binary Star server (chapter 4, "High-Availability
//! Pair (Binary Star Pattern)"): two copies of an echo server, a primary
//! (`-p`: clients on `tcp://*:5001`, its state published on `tcp://*:5003`,
//! its peer's read from `tcp://localhost:5004`) and a backup (`-b`: 5002,
//! 5004, 5003). Each publishes its state once a second and runs a small
//! finite state machine on what it hears from its peer and on each client
//! request: the first to hear the other decides who is active ("master")
//! and who is passive ("slave"); the passive one ignores clients while its
//! peer is heard, and takes over when a client asks and the peer has been
//! silent for two heartbeats. Two actives or two passives abort. Its client
//! is `bstarcli`.
//!
//! The port: the original's poll loop is three connections in the reactor
//! sharing the state machine as the reactor's state: a ROUTER echoing the
//! requests the machine accepts, a SUB feeding it the peer's states, and a
//! PUB publishing ours from a one-second `LoopingCall` (the original's
//! `send_state_at` deadline). Time is the reactor's clock.
//!
//! ```sh
//! cargo run --example bstarsrv -- -p &
//! cargo run --example bstarsrv -- -b &
//! cargo run --example bstarcli
//! ```
//!
//! Prints `I: Primary master, waiting for backup (slave)` (or `I: Backup
//! slave, waiting for primary (master)`), then the transitions:
//! `I: connected to backup (slave), ready as master`, `I: connected to
//! primary (master), ready as slave`, `I: connected to backup (master), ready
//! as slave` (a restarted primary finding the backup active), `I: primary
//! (slave) is restarting, ready as master`, ...; `E: fatal error - dual
//! masters, aborting` before exiting 1. As in the original, a passive
//! server taking over prints nothing. `--frontend`, `--state-pub` and
//! `--state-sub` replace the role's endpoints (for tests on free ports).

use std::cell::Cell;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::{
    bytes_repr, zmq, Error, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqSubConnection,
};
use tx0mq::{LoopingCall, Reactor};

mod pyport;

/// How often each server publishes its state; a peer silent for two of
/// these is taken for dead.
const HEARTBEAT: Duration = Duration::from_millis(1000);

/// The server's states, numbered as on the wire (`b"1"` ... `b"4"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Primary, waiting for its peer.
    Primary = 1,
    /// Backup, waiting for its peer.
    Backup = 2,
    /// Active: answering clients.
    Active = 3,
    /// Passive: ignoring clients while the peer is alive.
    Passive = 4,
}

impl State {
    /// The state a peer published (`b"3"`), if it is one.
    fn parse(frame: &[u8]) -> Option<State> {
        match frame {
            b"1" => Some(State::Primary),
            b"2" => Some(State::Backup),
            b"3" => Some(State::Active),
            b"4" => Some(State::Passive),
            _ => None,
        }
    }

    /// As published: `"%d" % state`.
    fn wire(self) -> String {
        (self as u8).to_string()
    }
}

/// What happens to the machine: the peer reports its state, or a client
/// sends a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Event {
    Peer(State),
    ClientRequest,
}

/// The state machine and when the peer counts as dead (the reactor's
/// clock; `None` before the peer was ever heard, the original's 0).
struct Fsm {
    state: State,
    peer_expiry: Option<Duration>,
}

/// Why the machine refused an event.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// A client request, ignored in this state.
    Ignore,
    /// Split brain: the server must stop.
    Fatal(&'static str),
}

impl Fsm {
    /// Applies `event` at time `now`: the original's `run_fsm`, with its
    /// table and its printed lines.
    fn run(&mut self, event: Event, now: Duration) -> Result<(), Refusal> {
        use Event::{ClientRequest, Peer};
        use State::{Active, Backup, Passive, Primary};
        let (message, next) = match (self.state, event) {
            (Primary, Peer(Backup)) => ("I: connected to backup (slave), ready as master", Active),
            (Primary, Peer(Active)) => ("I: connected to backup (master), ready as slave", Passive),
            (Backup, Peer(Active)) => ("I: connected to primary (master), ready as slave", Passive),
            (Backup, ClientRequest) => return Err(Refusal::Ignore),
            (Active, Peer(Active)) => {
                return Err(Refusal::Fatal("E: fatal error - dual masters, aborting"))
            }
            (Passive, Peer(Primary)) => {
                ("I: primary (slave) is restarting, ready as master", Active)
            }
            (Passive, Peer(Backup)) => ("I: backup (slave) is restarting, ready as master", Active),
            (Passive, Peer(Passive)) => {
                return Err(Refusal::Fatal("E: fatal error - dual slaves, aborting"))
            }
            (Passive, ClientRequest) => {
                // The request decides: take over if the peer has gone quiet.
                return match self.peer_expiry {
                    Some(expiry) if now > expiry => {
                        self.state = Active;
                        Ok(())
                    }
                    _ => Err(Refusal::Ignore),
                };
            }
            // Everything else changes nothing (the primary, still waiting,
            // answers clients).
            _ => return Ok(()),
        };
        println!("{message}");
        self.state = next;
        Ok(())
    }
}

/// The endpoints of one role: the clients', ours to publish on, the peer's.
struct Endpoints {
    frontend: String,
    state_pub: String,
    state_sub: String,
}

fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let (state, defaults) = if args.primary {
        println!("I: Primary master, waiting for backup (slave)");
        (
            State::Primary,
            ("tcp://*:5001", "tcp://*:5003", "tcp://localhost:5004"),
        )
    } else {
        println!("I: Backup slave, waiting for primary (master)");
        (
            State::Backup,
            ("tcp://*:5002", "tcp://*:5004", "tcp://localhost:5003"),
        )
    };
    let endpoints = Endpoints {
        frontend: args.frontend.unwrap_or_else(|| defaults.0.to_string()),
        state_pub: args.state_pub.unwrap_or_else(|| defaults.1.to_string()),
        state_sub: args.state_sub.unwrap_or_else(|| defaults.2.to_string()),
    };

    let reactor = Reactor::with_state(Fsm {
        state,
        peer_expiry: None,
    })?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();
    let statepub = ZmqConnection::new(&factory, zmq::PUB, ZmqEndpoint::bind(&endpoints.state_pub))?;
    let statesub = ZmqSubConnection::new(&factory, ZmqEndpoint::connect(&endpoints.state_sub))?;
    statesub.subscribe(b"")?;
    let frontend = ZmqConnection::new(
        &factory,
        zmq::ROUTER,
        ZmqEndpoint::bind(&endpoints.frontend),
    )?;

    // A client request: echo it if the state machine lets us.
    frontend.message_received(|cx, message| {
        let now = cx.reactor.seconds();
        match cx.state.run(Event::ClientRequest, now) {
            Ok(()) => cx.conn.send(message),
            Err(_) => Ok(()), // ignored: the client will fail over
        }
    });

    // The peer's state: an event for the machine, and proof the peer lives.
    let fatal = Rc::new(Cell::new(None));
    let fatal_seen = fatal.clone();
    statesub.message_received(move |cx, message| {
        let frame = pyport::first(&message);
        let Some(peer) = State::parse(frame) else {
            log::warn!(
                "dropped a peer state that is not 1-4: {}",
                bytes_repr(frame)
            );
            return Ok::<(), Error>(());
        };
        let now = cx.reactor.seconds();
        match cx.state.run(Event::Peer(peer), now) {
            Ok(()) => cx.state.peer_expiry = Some(now + 2 * HEARTBEAT),
            Err(refusal) => {
                if let Refusal::Fatal(message) = refusal {
                    println!("{message}");
                    fatal_seen.set(Some(message));
                }
                cx.reactor.stop()?;
            }
        }
        Ok(())
    });

    // Our state, to the peer, once a second.
    let heartbeat = LoopingCall::new(&reactor, move |cx| statepub.send(cx.state.state.wire()));
    heartbeat.start(HEARTBEAT, false)?;

    reactor.run()?;
    match fatal.get() {
        // Split brain: exit 1, saying why on stderr too.
        Some(message) => Err(message.trim_start_matches("E: fatal error - ").into()),
        None => Ok(()),
    }
}

/// Binary Star server: an echo service in an active/passive pair (zguide's
/// bstarsrv.py).
#[derive(Parser)]
#[command(group = clap::ArgGroup::new("role").required(true).args(["primary", "backup"]))]
struct Args {
    /// Run as the primary (clients on tcp://*:5001)
    #[arg(short, long)]
    primary: bool,
    /// Run as the backup (clients on tcp://*:5002)
    #[arg(short, long)]
    backup: bool,
    /// Where clients connect [default: tcp://*:5001 (-p), tcp://*:5002 (-b)]
    #[arg(long, value_name = "ENDPOINT")]
    frontend: Option<String>,
    /// Where our state is published [default: tcp://*:5003 (-p), tcp://*:5004 (-b)]
    #[arg(long, value_name = "ENDPOINT")]
    state_pub: Option<String>,
    /// The peer's state publisher [default: tcp://localhost:5004 (-p), tcp://localhost:5003 (-b)]
    #[arg(long, value_name = "ENDPOINT")]
    state_sub: Option<String>,
}

fn main() -> ExitCode {
    pyport::main(run)
}
