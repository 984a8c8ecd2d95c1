//! The Clone client API (not an example itself): `clone.py` from the zguide
//! (chapter 5, "Clone Server Reliability"), the client half of model six,
//! which `clonecli6` is written against.
//!
//! The application calls [`Clone::set_subtree`], [`Clone::connect`] (one
//! or two servers, the second a Binary Star backup), [`Clone::set`] (a key
//! and value, with a `ttl` in seconds, 0 for none) and [`Clone::get`]. The
//! API keeps a copy of the shared map under the subtree: it asks the
//! current server for a snapshot (`["ICANHAZ?", subtree]` on a DEALER to
//! PORT, read until `KTHXBAI`), then applies the server's numbered updates
//! (a SUB on PORT+1, subscribed to the subtree and to `HUGZ`), and sends the
//! application's updates to every server at once (a PUB connected to each
//! PORT+2). A server silent for [`SERVER_TTL`] (no update, no `HUGZ`) is
//! taken for dead: the API fails over to the next one and asks it for a
//! snapshot.
//!
//! In the original, the API is a front end that talks over a pipe to an
//! agent thread polling the sockets. Here there is no thread: the agent is
//! the connections' callbacks and a timer on the application's reactor,
//! and the front end's calls act on its state at once (`get` answers
//! without a round trip). Nothing blocks the reactor.
//!
//! ```ignore
//! let clone = Clone::new(&reactor, &factory)?;
//! clone.set_subtree("/client/");
//! clone.connect("tcp://localhost", 5556)?;
//! clone.connect("tcp://localhost", 5566)?;
//! clone.set("/client/42", "7", 30)?;
//! ```
//!
//! Logs as the original (`%(asctime)s %(message)s`): `I: waiting for
//! server at tcp://localhost:5556...`, `I: received from
//! tcp://localhost:5556 snapshot=N`, `I: received from tcp://localhost:5556
//! update=N` (or `delete=N`), `I: server at tcp://localhost:5556 didn't give
//! hugz`, `E: too many servers (max. 2)`.
//!
//! Where it differs, and why: updates go out on a PUB (the Python original
//! has a PUSH, which cannot talk to the servers' SUB collector, and would
//! send each update to one server only; the C original has a PUB); the SUB
//! subscribes to `HUGZ` as well as the subtree (else a quiet subtree reads
//! as a dead server); a message from a server that is not the current one
//! is dropped (the original leaves it queued, and drops it later as out of
//! sequence).
#![allow(dead_code)]

use std::cell::RefCell;
use std::error::Error;
use std::rc::Rc;
use std::time::Duration;

use tx0mq::connections::{
    zmq, Frame, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqOptions, ZmqSubConnection,
};
use tx0mq::{DelayedCall, Reactor};

use crate::kvmsg::{log, KvMap, KvMsg};

/// A server silent this long is taken for dead.
pub const SERVER_TTL: Duration = Duration::from_secs(5);
/// How many servers the API talks to.
pub const SERVER_MAX: usize = 2;

/// Where the agent is with the current server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Before asking a server for state.
    Initial,
    /// Getting state from the server.
    Syncing,
    /// Getting new updates from the server.
    Active,
}

/// One server we talk to.
struct Server<S: 'static> {
    /// `tcp://localhost:5556`, for the log.
    name: String,
    /// Asks for snapshots.
    snapshot: ZmqConnection<S>,
    /// Hears updates and HUGZ.
    subscriber: ZmqSubConnection<S>,
    /// Snapshot requests sent and not answered.
    requests: u32,
}

/// The agent: the map, the servers, and where we are with them.
struct Agent<S: 'static> {
    /// The map, as far as we know it.
    kvmap: KvMap,
    /// The subtree we share.
    subtree: Vec<u8>,
    /// The servers, in the order connected.
    servers: Vec<Server<S>>,
    /// Where we are with the current server.
    state: State,
    /// The current server's index.
    cur_server: usize,
    /// The last sequence number applied.
    sequence: i64,
    /// Sends our updates to every server.
    publisher: ZmqConnection<S>,
    /// When the current server counts as dead (the reactor's clock).
    expiry: Duration,
    /// The timer that checks `expiry`.
    timer: Option<DelayedCall>,
}

/// A client of a Clone server or of a Binary Star pair of them.
pub struct Clone<S: 'static> {
    reactor: Reactor<S>,
    factory: ZmqFactory<S>,
    agent: Rc<RefCell<Agent<S>>>,
}

impl<S: 'static> Clone<S> {
    /// A client with no server yet, on `factory`'s reactor.
    pub fn new(reactor: &Reactor<S>, factory: &ZmqFactory<S>) -> Result<Clone<S>, Box<dyn Error>> {
        let linger = ZmqOptions::new().linger(Duration::ZERO);
        let publisher = ZmqConnection::with_options(factory, zmq::PUB, Vec::new(), &linger)?;
        let agent = Agent {
            kvmap: KvMap::new(),
            subtree: Vec::new(),
            servers: Vec::new(),
            state: State::Initial,
            cur_server: 0,
            sequence: 0,
            publisher,
            expiry: Duration::ZERO,
            timer: None,
        };
        Ok(Clone {
            reactor: reactor.clone(),
            factory: factory.clone(),
            agent: Rc::new(RefCell::new(agent)),
        })
    }

    /// Sets the subtree for snapshots and updates (the original's `subtree`
    /// property). Set it before connecting: a server connected earlier keeps
    /// the subtree it was connected with.
    pub fn set_subtree(&self, subtree: impl Into<Vec<u8>>) {
        self.agent.borrow_mut().subtree = subtree.into();
    }

    /// The subtree.
    pub fn subtree(&self) -> Vec<u8> {
        self.agent.borrow().subtree.clone()
    }

    /// Connects to the server at `address` (`tcp://localhost`) and `port`
    /// (snapshots; updates on PORT+1, collector on PORT+2). The first server
    /// connected is asked for a snapshot at once; a second one is the
    /// failover. More than [`SERVER_MAX`] are refused, with the original's
    /// log line.
    pub fn connect(&self, address: &str, port: u16) -> Result<(), Box<dyn Error>> {
        let mut agent = self.agent.borrow_mut();
        if agent.servers.len() >= SERVER_MAX {
            log(format_args!("E: too many servers (max. {SERVER_MAX})"));
            return Ok(());
        }
        let port = u32::from(port);
        let at = |port: u32| ZmqEndpoint::connect(format!("{address}:{port}"));
        let linger = ZmqOptions::new().linger(Duration::ZERO);
        let snapshot = ZmqConnection::with_options(&self.factory, zmq::DEALER, at(port), &linger)?;
        let subscriber = ZmqSubConnection::with_options(&self.factory, at(port + 1), &linger)?;
        subscriber.subscribe(&agent.subtree)?;
        subscriber.subscribe(b"HUGZ")?;
        subscriber.pause_reading(); // until it is the current server, synced
        agent.publisher.add_endpoints(at(port + 2))?;

        let index = agent.servers.len();
        let weak = Rc::downgrade(&self.agent);
        snapshot.message_received(move |cx, message| {
            if let Some(agent) = weak.upgrade() {
                agent.borrow_mut().on_snapshot(cx.reactor, index, &message);
            }
        });
        let weak = Rc::downgrade(&self.agent);
        subscriber.message_received(move |cx, message| {
            if let Some(agent) = weak.upgrade() {
                agent.borrow_mut().on_update(cx.reactor, index, &message);
            }
        });
        agent.servers.push(Server {
            name: format!("{address}:{port}"),
            snapshot,
            subscriber,
            requests: 0,
        });
        if agent.state == State::Initial && index == agent.cur_server {
            agent.sync(&self.reactor, &self.agent);
        }
        Ok(())
    }

    /// Sets `key` to `value` in the shared map, for `ttl` seconds (0:
    /// forever): here at once, and at the servers, which publish it to
    /// every client. An empty value deletes the key.
    pub fn set(
        &self,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
        ttl: u32,
    ) -> Result<(), Box<dyn Error>> {
        let mut agent = self.agent.borrow_mut();
        let mut kvmsg = KvMsg::with(0, key, value);
        if ttl != 0 {
            kvmsg.set_prop(b"ttl", ttl.to_string());
        }
        kvmsg.send(&agent.publisher)?;
        kvmsg.store(&mut agent.kvmap);
        Ok(())
    }

    /// The value of `key`, if the map has it.
    pub fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.agent
            .borrow()
            .kvmap
            .get(key)
            .map(|kvmsg| kvmsg.body.clone())
    }

    /// True once a snapshot from the current server is in (and until that
    /// server is taken for dead).
    pub fn is_active(&self) -> bool {
        self.agent.borrow().state == State::Active
    }

    /// Calls `f` with the map as this client has it.
    pub fn with_map<R>(&self, f: impl FnOnce(&KvMap) -> R) -> R {
        f(&self.agent.borrow().kvmap)
    }
}

impl<S: 'static> Agent<S> {
    /// Asks the current server for a snapshot (the original's
    /// `STATE_INITIAL`): at most two requests unanswered, then waiting.
    fn sync(&mut self, reactor: &Reactor<S>, me: &Rc<RefCell<Agent<S>>>) {
        let subtree = self.subtree.clone();
        let Some(server) = self.servers.get_mut(self.cur_server) else {
            return;
        };
        log(format_args!("I: waiting for server at {}...", server.name));
        if server.requests < 2 {
            let request = vec![b"ICANHAZ?".to_vec(), subtree];
            if let Err(e) = server.snapshot.send(request) {
                log(format_args!(
                    "E: cannot ask {} for a snapshot: {e}",
                    server.name
                ));
            }
            server.requests += 1;
        }
        self.state = State::Syncing;
        self.arm(reactor, me);
    }

    /// (Re)starts the wait for the current server: it is dead if silent
    /// until `SERVER_TTL` from now.
    fn arm(&mut self, reactor: &Reactor<S>, me: &Rc<RefCell<Agent<S>>>) {
        self.expiry = reactor.seconds() + SERVER_TTL;
        if self.timer.as_ref().is_some_and(DelayedCall::active) {
            return; // it checks `expiry` when it fires
        }
        self.schedule(reactor, me, SERVER_TTL);
    }

    /// Checks the current server's expiry in `delay`.
    fn schedule(&mut self, reactor: &Reactor<S>, me: &Rc<RefCell<Agent<S>>>, delay: Duration) {
        let weak = Rc::downgrade(me);
        self.timer = Some(reactor.call_later(delay, move |cx| {
            let Some(me) = weak.upgrade() else {
                return;
            };
            let mut agent = me.borrow_mut();
            let now = cx.reactor.seconds();
            if now < agent.expiry {
                let left = agent.expiry - now;
                agent.schedule(cx.reactor, &me, left);
            } else {
                agent.fail_over(cx.reactor, &me);
            }
        }));
    }

    /// The current server has died: on to the next, and ask it for state.
    fn fail_over(&mut self, reactor: &Reactor<S>, me: &Rc<RefCell<Agent<S>>>) {
        let Some(server) = self.servers.get(self.cur_server) else {
            return;
        };
        log(format_args!(
            "I: server at {} didn't give hugz",
            server.name
        ));
        server.subscriber.pause_reading();
        self.cur_server = (self.cur_server + 1) % self.servers.len();
        self.state = State::Initial;
        self.sync(reactor, me);
    }

    /// A snapshot message from server `index`.
    fn on_snapshot(&mut self, reactor: &Reactor<S>, index: usize, message: &[Frame]) {
        if index != self.cur_server || self.state != State::Syncing {
            return; // an answer to an earlier request, from a server given up
        }
        let Some(kvmsg) = self.parse(index, message) else {
            return;
        };
        self.expiry = reactor.seconds() + SERVER_TTL;
        let Some(server) = self.servers.get_mut(index) else {
            return;
        };
        server.requests = 0;
        if kvmsg.key == b"KTHXBAI" {
            self.sequence = kvmsg.sequence;
            self.state = State::Active;
            server.subscriber.resume_reading();
            log(format_args!(
                "I: received from {} snapshot={}",
                server.name, self.sequence
            ));
        } else {
            kvmsg.store(&mut self.kvmap);
        }
    }

    /// An update (or HUGZ) from server `index`.
    fn on_update(&mut self, reactor: &Reactor<S>, index: usize, message: &[Frame]) {
        if index != self.cur_server || self.state != State::Active {
            return;
        }
        let Some(kvmsg) = self.parse(index, message) else {
            return;
        };
        // Anything from server resets its expiry time
        self.expiry = reactor.seconds() + SERVER_TTL;
        // Discard out-of-sequence updates, incl. hugz
        if kvmsg.sequence > self.sequence {
            self.sequence = kvmsg.sequence;
            let action = if kvmsg.body.is_empty() {
                "delete"
            } else {
                "update"
            };
            kvmsg.store(&mut self.kvmap);
            let name = self.servers.get(index).map_or("?", |s| &s.name);
            log(format_args!(
                "I: received from {name} {action}={}",
                self.sequence
            ));
        }
    }

    /// `message` as a key-value message, or `None` after saying why not.
    fn parse(&self, index: usize, message: &[Frame]) -> Option<KvMsg> {
        match KvMsg::from_frames(message) {
            Ok(kvmsg) => Some(kvmsg),
            Err(e) => {
                let name = self.servers.get(index).map_or("?", |s| &s.name);
                log(format_args!("E: bad message from {name}, ignored: {e}"));
                None
            }
        }
    }
}
