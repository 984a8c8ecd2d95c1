//! The Binary Star reactor (not an example itself): `bstar.py` from the
//! zguide (chapter 4, "Binary Star Reactor"), the state machine of a
//! high-availability pair wrapped around one application socket, for
//! `bstarsrv2` and any server that wants a hot backup.
//!
//! The original builds on pyzmq's IOLoop: a `PeriodicCallback` publishes the
//! server's state every second, a `ZMQStream` feeds the peer's state to the
//! state machine, and the application registers one "voter" socket whose
//! requests count as votes: each runs the machine, which passes it on to the
//! application's handler only while this server may answer. Here the same
//! parts are the reactor's: a `LoopingCall`, a SUB connection, and the
//! voter as a raw connection whose callback runs the machine before the
//! handler. The handler gets the connection callbacks' usual context (the
//! reactor, the application's state, the voter connection as `cx.conn`: the
//! original's `(socket, msg)`). The callbacks on becoming active or passive
//! (the original's `master_callback`, `slave_callback`) run on the next pass,
//! as `loop.add_callback` runs them.
//!
//! ```ignore
//! let star = BinaryStar::new(&reactor, &factory, true, "tcp://*:5003", "tcp://localhost:5004")?;
//! star.register_voter("tcp://*:5001", zmq::ROUTER, |cx, msg| cx.conn.send(msg))?;
//! star.start()?; // runs the reactor; an error on a split brain
//! ```
//!
//! Printed lines are the original's (`I: connected to backup (slave), ready
//! as master`, `I: failover successful, ready as master`, `CLIENT REQUEST`
//! for each request passed on, ...). A split brain (two actives, two
//! passives) prints its `E: fatal error - ...` line and stops the reactor;
//! [`BinaryStar::start`] then returns the error (the original raises it in
//! its stream callback). A state message that is not a state (1 to 4) is
//! logged and dropped.
//!
//! `bstarsrv2` uses only part of it (no state callbacks), `clonesrv6`
//! another part (the state callbacks, a voter with options); hence the
//! `allow(dead_code)`. `cargo test --example bstarsrv2` runs the state
//! machine's unit tests below.
#![allow(dead_code)]

use std::cell::{Cell, RefCell};
use std::error::Error;
use std::rc::Rc;
use std::time::Duration;

use tx0mq::connections::{
    bytes_repr, zmq, Multipart, ZmqConnection, ZmqCtx, ZmqEndpoint, ZmqFactory, ZmqOptions,
    ZmqSubConnection,
};
use tx0mq::reactor::CallbackResult;
use tx0mq::{Ctx, LoopingCall, Reactor};

/// How often the state is published; a peer silent for two of these is
/// taken for dead.
pub const HEARTBEAT: Duration = Duration::from_millis(1000);

/// A server's state, numbered as on the wire (`b"1"` ... `b"4"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Primary, waiting for its peer.
    Primary = 1,
    /// Backup, waiting for its peer.
    Backup = 2,
    /// Active: accepting requests.
    Active = 3,
    /// Passive: not accepting requests.
    Passive = 4,
}

impl State {
    /// The state a peer published, if it is one.
    pub fn parse(frame: &[u8]) -> Option<State> {
        match frame {
            b"1" => Some(State::Primary),
            b"2" => Some(State::Backup),
            b"3" => Some(State::Active),
            b"4" => Some(State::Passive),
            _ => None,
        }
    }

    /// As published: the decimal digit.
    pub fn wire(self) -> String {
        (self as u8).to_string()
    }
}

/// What the machine hears: the peer's state, or a client's request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The peer published its state.
    Peer(State),
    /// A request arrived on the voter.
    ClientRequest,
}

/// Why the machine refused an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A request this server must not answer now.
    Ignore,
    /// Split brain: the line printed, the server must stop.
    Fatal(&'static str),
}

/// The state machine, with the time the peer counts as dead at (the
/// reactor's clock).
#[derive(Debug)]
pub struct Machine {
    /// The current state.
    pub state: State,
    /// When the peer is taken for dead, if it stays silent.
    pub peer_expiry: Duration,
}

impl Machine {
    /// A primary's or a backup's machine; the peer expires at `expiry`.
    pub fn new(primary: bool, expiry: Duration) -> Machine {
        Machine {
            state: if primary {
                State::Primary
            } else {
                State::Backup
            },
            peer_expiry: expiry,
        }
    }

    /// Applies `event` at `now` (the original's `execute_fsm`): `Ok` when a
    /// request may be accepted (and for every peer state that is not a
    /// split brain), printing the original's line on each transition.
    pub fn execute(&mut self, event: Event, now: Duration) -> Result<(), Refusal> {
        use Event::{ClientRequest, Peer};
        use State::{Active, Backup, Passive, Primary};
        let peer_dead = now >= self.peer_expiry;
        let (line, next) = match (self.state, event) {
            (Primary, Peer(Backup)) => ("I: connected to backup (slave), ready as master", Active),
            (Primary, Peer(Active)) => ("I: connected to backup (master), ready as slave", Passive),
            // The backup may have taken over while we were away: wait for
            // its word, or for its silence.
            (Primary, ClientRequest) if peer_dead => {
                ("I: request from client, ready as master", Active)
            }
            (Primary, ClientRequest) => return Err(Refusal::Ignore),
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
            // The request decides a failover, if the peer has gone quiet.
            (Passive, ClientRequest) if peer_dead => {
                ("I: failover successful, ready as master", Active)
            }
            (Passive, ClientRequest) => return Err(Refusal::Ignore),
            _ => return Ok(()),
        };
        println!("{line}");
        self.state = next;
        Ok(())
    }
}

/// A callback on becoming active or passive.
type StateCallback<S> = Rc<RefCell<Option<Box<dyn FnMut(&mut Ctx<'_, S>)>>>>;

/// A Binary Star server: the state machine, its heartbeat and the voter.
pub struct BinaryStar<S: 'static> {
    reactor: Reactor<S>,
    factory: ZmqFactory<S>,
    machine: Rc<RefCell<Machine>>,
    heartbeat: LoopingCall<S>,
    statesub: ZmqSubConnection<S>,
    voter: Cell<bool>,
    on_active: StateCallback<S>,
    on_passive: StateCallback<S>,
    fatal: Rc<Cell<Option<&'static str>>>,
}

/// Schedules `callback` for the next pass (the original's `add_callback`).
fn schedule<S: 'static>(reactor: &Reactor<S>, callback: &StateCallback<S>) {
    if callback.borrow().is_none() {
        return;
    }
    let callback = callback.clone();
    reactor.call_later(Duration::ZERO, move |cx| {
        if let Some(f) = callback.borrow_mut().as_mut() {
            f(cx);
        }
    });
}

impl<S: 'static> BinaryStar<S> {
    /// A primary (`primary`) or backup server on `reactor` publishing its state on
    /// `local` (bound) and hearing its peer's from `remote` (connected).
    pub fn new(
        reactor: &Reactor<S>,
        factory: &ZmqFactory<S>,
        primary: bool,
        local: &str,
        remote: &str,
    ) -> Result<BinaryStar<S>, Box<dyn Error>> {
        let reactor = reactor.clone();
        let machine = Rc::new(RefCell::new(Machine::new(primary, Duration::ZERO)));
        let statepub = ZmqConnection::new(factory, zmq::PUB, ZmqEndpoint::bind(local))?;
        let statesub = ZmqSubConnection::new(factory, ZmqEndpoint::connect(remote))?;
        statesub.subscribe(b"")?;
        statesub.pause_reading(); // until start()

        let sending = machine.clone();
        let heartbeat = LoopingCall::new(&reactor, move |_| {
            let state = sending.borrow().state;
            statepub.send(state.wire())
        });

        let star = BinaryStar {
            reactor,
            factory: factory.clone(),
            machine,
            heartbeat,
            statesub,
            voter: Cell::new(false),
            on_active: Rc::new(RefCell::new(None)),
            on_passive: Rc::new(RefCell::new(None)),
            fatal: Rc::new(Cell::new(None)),
        };
        star.hear_the_peer();
        Ok(star)
    }

    /// The peer's state: an event for the machine, and proof it lives.
    fn hear_the_peer(&self) {
        let machine = self.machine.clone();
        let fatal = self.fatal.clone();
        let (on_active, on_passive) = (self.on_active.clone(), self.on_passive.clone());
        self.statesub.message_received(move |cx, message| {
            let frame = message.first().map_or(&[][..], |f| &f[..]);
            let Some(peer) = State::parse(frame) else {
                log::warn!(
                    "dropped a peer state that is not 1-4: {}",
                    bytes_repr(frame)
                );
                return Ok(());
            };
            let now = cx.reactor.seconds();
            let outcome = {
                let mut machine = machine.borrow_mut();
                machine.peer_expiry = now + 2 * HEARTBEAT;
                let before = machine.state;
                machine
                    .execute(Event::Peer(peer), now)
                    .map(|()| (before, machine.state))
            };
            match outcome {
                Ok((before, after)) if before != after => {
                    let callback = if after == State::Active {
                        &on_active
                    } else {
                        &on_passive
                    };
                    schedule(cx.reactor, callback);
                    Ok(())
                }
                Ok(_) => Ok(()),
                Err(Refusal::Fatal(line)) => {
                    println!("{line}");
                    fatal.set(Some(line));
                    cx.reactor.stop()
                }
                Err(Refusal::Ignore) => Ok(()),
            }
        });
    }

    /// Makes the voter: a socket of `socket_type` bound to `endpoint` whose
    /// messages are passed to `handler` only while the machine accepts
    /// requests (the original's `register_voter`). One voter per server.
    pub fn register_voter<F, R>(
        &self,
        endpoint: &str,
        socket_type: zmq::SocketType,
        handler: F,
    ) -> Result<ZmqConnection<S>, Box<dyn Error>>
    where
        F: FnMut(&mut ZmqCtx<'_, S, ZmqConnection<S>>, Multipart) -> R + 'static,
        R: CallbackResult,
    {
        self.register_voter_with_options(endpoint, socket_type, &ZmqOptions::new(), handler)
    }

    /// [`register_voter`](Self::register_voter) with socket options for the
    /// voter (a send high-water mark for a server that answers with many
    /// messages, say).
    pub fn register_voter_with_options<F, R>(
        &self,
        endpoint: &str,
        socket_type: zmq::SocketType,
        options: &ZmqOptions,
        mut handler: F,
    ) -> Result<ZmqConnection<S>, Box<dyn Error>>
    where
        F: FnMut(&mut ZmqCtx<'_, S, ZmqConnection<S>>, Multipart) -> R + 'static,
        R: CallbackResult,
    {
        if self.voter.replace(true) {
            return Err("a Binary Star server has one voter only".into());
        }
        let bound = ZmqEndpoint::bind(endpoint);
        let voter = ZmqConnection::with_options(&self.factory, socket_type, bound, options)?;
        let machine = self.machine.clone();
        let on_active = self.on_active.clone();
        voter.message_received(move |cx, message| {
            let now = cx.reactor.seconds();
            let outcome = {
                let mut machine = machine.borrow_mut();
                let before = machine.state;
                machine
                    .execute(Event::ClientRequest, now)
                    .map(|()| before != machine.state)
            };
            match outcome {
                Ok(changed) => {
                    if changed {
                        schedule(cx.reactor, &on_active);
                    }
                    println!("CLIENT REQUEST");
                    handler(cx, message).into_callback_result()
                }
                // Ignored: the client will try the other server.
                Err(_) => Ok(()),
            }
        });
        Ok(voter)
    }

    /// Called (on the next pass) each time this server becomes active.
    pub fn on_active(&self, f: impl FnMut(&mut Ctx<'_, S>) + 'static) {
        *self.on_active.borrow_mut() = Some(Box::new(f));
    }

    /// Called (on the next pass) each time this server becomes passive.
    pub fn on_passive(&self, f: impl FnMut(&mut Ctx<'_, S>) + 'static) {
        *self.on_passive.borrow_mut() = Some(Box::new(f));
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.machine.borrow().state
    }

    /// Starts the heartbeat and runs the reactor until it stops (the
    /// original's `start`, which runs the IOLoop). The peer counts as dead
    /// two heartbeats from now unless heard. Fails if the reactor stopped on
    /// a split brain.
    pub fn start(&self) -> Result<(), Box<dyn Error>> {
        self.machine.borrow_mut().peer_expiry = self.reactor.seconds() + 2 * HEARTBEAT;
        self.statesub.resume_reading();
        self.heartbeat.start(HEARTBEAT, false)?;
        self.reactor.run()?;
        match self.fatal.get() {
            Some(line) => Err(line.trim_start_matches("E: fatal error - ").into()),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn the_first_to_hear_the_other_decides() {
        let mut primary = Machine::new(true, 2 * SECOND);
        let mut backup = Machine::new(false, 2 * SECOND);
        assert_eq!(primary.execute(Event::Peer(State::Backup), SECOND), Ok(()));
        assert_eq!(primary.state, State::Active);
        assert_eq!(backup.execute(Event::Peer(State::Active), SECOND), Ok(()));
        assert_eq!(backup.state, State::Passive);
        // The passive server ignores clients while its peer lives...
        let refused = backup.execute(Event::ClientRequest, SECOND);
        assert_eq!(refused, Err(Refusal::Ignore));
        // ... and takes over once it has been silent two heartbeats.
        assert_eq!(backup.execute(Event::ClientRequest, 2 * SECOND), Ok(()));
        assert_eq!(backup.state, State::Active);
    }

    #[test]
    fn a_waiting_primary_answers_only_once_its_peer_is_overdue() {
        let mut primary = Machine::new(true, 2 * SECOND);
        let refused = primary.execute(Event::ClientRequest, SECOND);
        assert_eq!(refused, Err(Refusal::Ignore));
        assert_eq!(primary.execute(Event::ClientRequest, 3 * SECOND), Ok(()));
        assert_eq!(primary.state, State::Active);
    }

    #[test]
    fn split_brains_are_fatal() {
        let mut active = Machine::new(true, SECOND);
        active.state = State::Active;
        assert!(matches!(
            active.execute(Event::Peer(State::Active), SECOND),
            Err(Refusal::Fatal(_))
        ));
        let mut passive = Machine::new(true, SECOND);
        passive.state = State::Passive;
        assert!(matches!(
            passive.execute(Event::Peer(State::Passive), SECOND),
            Err(Refusal::Fatal(_))
        ));
    }
}
