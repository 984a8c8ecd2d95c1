//! The machinery every connection shares: the socket in the reactor, the
//! edge-trigger discipline, the outbox, and delivery to the protocol.
//!
//! # The edge-trigger invariants (docs/ARCHITECTURE.md states them in full)
//!
//! `ZMQ_FD` is edge-triggered and means "something changed", and every
//! `send`, `recv` and `ZMQ_EVENTS` read may consume the edge. So:
//!
//! 1. the fd is registered as an edge-triggered reactor *source*, readable only;
//! 2. on a wake-up, [`Core::on_ready`] reads `ZMQ_EVENTS` and acts on POLLIN
//!    (receive) and POLLOUT (flush the outbox). When the outbox is empty and
//!    a protocol is reading, nothing waits for POLLOUT and its first `recv`
//!    is that look: it processes libzmq's commands as a `ZMQ_EVENTS` read
//!    does, and returns a message or EAGAIN;
//! 3. every `send` and `recv`, from any code path, ends by waking the source
//!    ([`Core::touched`]): the reactor runs [`Core::on_ready`] again before it
//!    next blocks, and that re-reads `ZMQ_EVENTS`. Inside `on_ready` itself
//!    (a protocol replying from its callback) the operation is only counted:
//!    `on_ready` ends by re-reading `ZMQ_EVENTS` unless its last look, a
//!    `recv` that found the socket drained, came after every operation. That
//!    look processed libzmq's pending commands just as a `ZMQ_EVENTS` read
//!    does, so any later command signals `ZMQ_FD` afresh. A protocol is never
//!    called from inside `send`;
//! 4. at most [`BATCH`] messages are handled per pass; if more are waiting the
//!    source wakes itself, so the next poll does not block and other sources
//!    and timers get their turn;
//! 5. the source is woken once right after registration, for messages that
//!    arrived before it;
//! 6. shutdown deregisters the fd, then closes the socket with its linger.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};

use tx0mq_reactor::{Ctx, Reactor, SourceId, WeakReactor};

use crate::endpoint::{ZmqEndpoint, ZmqEndpointType};
use crate::error::{Error, Result};
use crate::factory::{FactoryInner, ZmqFactory};
use crate::frames::{Frame, IntoMultipart, Multipart};
use crate::monitor::{self, MonitorEvent, MonitorSlot};
use crate::options::{ZmqOptions, DEFAULT_OUTBOX_BYTES, DEFAULT_OUTBOX_LIMIT};
use crate::outbox::Outbox;
use crate::pattern::Refused;
use crate::recv_into::FrameInto;
use crate::socket::{FakeWire, FrameIn, Received, Socket};
use crate::stats::{add, ConnectionStats, Counters};
use crate::warn_limit::WarnLimit;

/// Messages handled per connection per reactor pass before yielding.
pub const BATCH: usize = 256;

/// Why a connection was lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LostReason {
    /// Its `shutdown` was called.
    Shutdown,
    /// Its factory was shut down.
    FactoryShutdown,
    /// The reactor shut down (the factory was registered for shutdown).
    ReactorShutdown,
    /// Its ZeroMQ context was shut down
    /// ([`ZmqContext::shutdown`](crate::ZmqContext::shutdown)): libzmq
    /// refuses every operation on the socket (`ETERM`), so the connection
    /// closed at the end of the pass that saw it.
    ContextTerminated,
}

/// What `connection_lost` is told. Fields may be added: read them, and
/// build one with [`new`](Self::new).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionLost {
    /// Why.
    pub reason: LostReason,
    /// Messages still in the outbox that libzmq would not take before the
    /// socket closed: they were not sent.
    pub dropped: usize,
}

impl ConnectionLost {
    /// A connection lost for `reason`, with `dropped` queued messages not
    /// sent (for protocol tests that call `connection_lost` themselves).
    pub fn new(reason: LostReason, dropped: usize) -> Self {
        ConnectionLost { reason, dropped }
    }
}

impl fmt::Display for ConnectionLost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.reason {
            LostReason::Shutdown => "shut down",
            LostReason::FactoryShutdown => "factory shut down",
            LostReason::ReactorShutdown => "reactor shut down",
            LostReason::ContextTerminated => "ZeroMQ context shut down",
        };
        write!(f, "{why}")?;
        if self.dropped > 0 {
            write!(f, "; {} queued message(s) dropped", self.dropped)?;
        }
        Ok(())
    }
}

/// What a connection type does with the events of its socket. Each pattern
/// implements it around the user's protocol.
pub(crate) trait Handler<S: 'static> {
    fn made(&mut self, _cx: &mut Ctx<'_, S>, _core: &Rc<Core<S>>) {}
    /// Receives and delivers one batch, through
    /// [`Core::receive_owned`] or [`Core::receive_borrowed`]; returns what
    /// that returned. One dynamic call per batch: the per-message calls
    /// inside are static.
    fn receive(&mut self, cx: &mut Ctx<'_, S>, core: &Rc<Core<S>>) -> Option<u64>;
    fn lost(&mut self, _cx: &mut Ctx<'_, S>, _core: &Rc<Core<S>>, _lost: &ConnectionLost) {}
    /// A socket-monitor event (see `crate::monitor`).
    fn monitor(&mut self, _cx: &mut Ctx<'_, S>, _core: &Rc<Core<S>>, _event: &MonitorEvent) {}
}

/// What a protocol hears last: the monitor events read at shutdown (after
/// `connection_made`, if that was still to come), then `connection_lost`.
struct Farewell {
    made: bool,
    events: Vec<MonitorEvent>,
    lost: ConnectionLost,
}

impl Farewell {
    fn events<S: 'static>(
        &mut self,
        handler: &mut dyn Handler<S>,
        cx: &mut Ctx<'_, S>,
        core: &Rc<Core<S>>,
    ) {
        if std::mem::take(&mut self.made) {
            handler.made(cx, core);
        }
        for event in std::mem::take(&mut self.events) {
            handler.monitor(cx, core, &event);
        }
    }

    fn deliver<S: 'static>(
        mut self,
        handler: &mut dyn Handler<S>,
        cx: &mut Ctx<'_, S>,
        core: &Rc<Core<S>>,
    ) {
        self.events(handler, cx, core);
        handler.lost(cx, core, &self.lost);
    }
}

/// A registered producer (Twisted's `IProducer`), as the core sees it.
pub(crate) trait ProducerHandler<S: 'static> {
    fn pause(&mut self, cx: &mut Ctx<'_, S>, core: &Rc<Core<S>>);
    fn resume(&mut self, cx: &mut Ctx<'_, S>, core: &Rc<Core<S>>);
    fn stop(&mut self, cx: &mut Ctx<'_, S>, core: &Rc<Core<S>>);
}

struct ProducerSlot<S: 'static> {
    serial: u64,
    producer: Option<Box<dyn ProducerHandler<S>>>,
    streaming: bool,
    paused: bool,
}

struct HandlerSlot<S: 'static> {
    serial: u64,
    handler: Option<Box<dyn Handler<S>>>,
}

/// One connection's shared state. Pattern types hold an `Rc` of it.
pub(crate) struct Core<S: 'static> {
    socket: RefCell<Option<Socket>>,
    pub(crate) kind: zmq::SocketType,
    /// What a send libzmq refuses becomes: queued, dropped or an error.
    refused: Refused,
    /// Whether received bytes are counted (`ZmqOptions::count_received_bytes`).
    count_bytes: bool,
    reactor: WeakReactor<S>,
    factory: Weak<FactoryInner<S>>,
    factory_key: Cell<usize>,
    source: Cell<Option<SourceId>>,
    outbox: RefCell<Outbox>,
    /// Malformed messages from peers, logged at a bounded rate.
    malformed: RefCell<WarnLimit>,
    /// The frames a borrowing protocol reads, reused from message to message.
    scratch: RefCell<Vec<Frame>>,
    slot: RefCell<HandlerSlot<S>>,
    has_handler: Cell<bool>,
    made_pending: Cell<bool>,
    /// libzmq said `ETERM`: the context was shut down, and the connection
    /// closes at the end of the pass.
    terminated: Cell<bool>,
    lost_pending: RefCell<Option<Farewell>>,
    paused: Cell<bool>,
    endpoints: RefCell<Vec<ZmqEndpoint>>,
    name: String,
    producer: RefCell<ProducerSlot<S>>,
    /// Whether `on_ready` is running: an operation on the socket then needs
    /// no wake, because `on_ready` ends by looking at the socket again.
    dispatching: Cell<bool>,
    /// Counts the operations on the socket (see `touched`), so `on_ready`
    /// can tell whether its last look is still current.
    ops: Cell<u64>,
    /// Bumped by whatever must end a batch early: pausing, a new or removed
    /// handler, shutdown. The batch loop compares one integer per message.
    epoch: Cell<u64>,
    /// The socket monitor, if one was asked for (`crate::monitor`).
    pub(crate) monitor: MonitorSlot<S>,
    /// Messages and bytes in and out, queued, dropped; pauses.
    stats: Counters,
    /// Tasks waiting in `send_ready` for the outbox to drain: woken when it
    /// has, or at shutdown.
    send_waiters: RefCell<Vec<Waker>>,
    /// `send_ready`s in a row that found the outbox empty (see
    /// [`Core::poll_send_ready`]).
    ready_streak: Cell<usize>,
}

fn socket_type_name(kind: zmq::SocketType) -> &'static str {
    use zmq::SocketType::*;
    match kind {
        PAIR => "PAIR",
        PUB => "PUB",
        SUB => "SUB",
        REQ => "REQ",
        REP => "REP",
        DEALER => "DEALER",
        ROUTER => "ROUTER",
        PULL => "PULL",
        PUSH => "PUSH",
        XPUB => "XPUB",
        XSUB => "XSUB",
        STREAM => "STREAM",
    }
}

impl<S: 'static> Core<S> {
    /// Creates the socket, applies options, binds/connects, registers it.
    pub(crate) fn open(
        factory: &ZmqFactory<S>,
        kind: zmq::SocketType,
        refused: Refused,
        endpoints: &[ZmqEndpoint],
        options: &ZmqOptions,
    ) -> Result<Rc<Self>> {
        let name = format!("{} connection", socket_type_name(kind));
        let core = Self::open_detached(factory, kind, refused, endpoints, options, name)?;
        core.factory_key.set(factory.register(&core));
        Ok(core)
    }

    /// [`open`](Self::open) without the factory's keeping: the core's owner
    /// shuts it down (a connection's monitor reader).
    pub(crate) fn open_detached(
        factory: &ZmqFactory<S>,
        kind: zmq::SocketType,
        refused: Refused,
        endpoints: &[ZmqEndpoint],
        options: &ZmqOptions,
        name: String,
    ) -> Result<Rc<Self>> {
        let reactor = factory
            .inner
            .reactor
            .upgrade()
            .ok_or(Error::Reactor(tx0mq_reactor::Error::ReactorGone))?;
        // A PUB that libzmq tells to wait (XPUB_NODROP) waits in the outbox.
        let refused = match (refused, options.xpub_nodrop) {
            (Refused::Drop, Some(true)) => Refused::Queue,
            (refused, _) => refused,
        };
        let mut socket = factory.inner.socket(kind)?;
        options.apply(&mut socket, &name, factory.inner.linger())?;
        let fd = socket.get_fd().map_err(|source| Error::Socket {
            context: format!("read ZMQ_FD of the {name}"),
            source,
        })?;
        let core = Self::build(
            Socket::Zmq(socket),
            kind,
            refused,
            &reactor,
            Rc::downgrade(&factory.inner),
            name,
            options,
        );
        core.add_endpoints(endpoints)?;
        let weak = Rc::downgrade(&core);
        let id = reactor
            .add_source(fd, move |cx, id| {
                if let Some(core) = weak.upgrade() {
                    if core.on_ready(cx) {
                        cx.reactor.wake_source(id);
                    }
                }
            })
            .map_err(Error::Reactor)?;
        core.source.set(Some(id));
        // Invariant 5: look once, for messages that arrived before registration.
        reactor.wake_source(id);
        Ok(core)
    }

    /// The core around `socket`, not yet registered with the reactor.
    fn build(
        socket: Socket,
        kind: zmq::SocketType,
        refused: Refused,
        reactor: &Reactor<S>,
        factory: Weak<FactoryInner<S>>,
        name: String,
        options: &ZmqOptions,
    ) -> Rc<Self> {
        Rc::new(Core {
            socket: RefCell::new(Some(socket)),
            kind,
            refused,
            count_bytes: options.count_received_bytes,
            reactor: reactor.downgrade(),
            factory,
            factory_key: Cell::new(usize::MAX),
            source: Cell::new(None),
            outbox: RefCell::new(Outbox::new(
                options.outbox_limit.unwrap_or(DEFAULT_OUTBOX_LIMIT),
                options.outbox_bytes.unwrap_or(DEFAULT_OUTBOX_BYTES),
            )),
            malformed: RefCell::new(WarnLimit::default()),
            scratch: RefCell::new(Vec::new()),
            slot: RefCell::new(HandlerSlot {
                serial: 0,
                handler: None,
            }),
            has_handler: Cell::new(false),
            made_pending: Cell::new(false),
            terminated: Cell::new(false),
            lost_pending: RefCell::new(None),
            paused: Cell::new(false),
            endpoints: RefCell::new(Vec::new()),
            name,
            producer: RefCell::new(ProducerSlot {
                serial: 0,
                producer: None,
                streaming: true,
                paused: false,
            }),
            dispatching: Cell::new(false),
            ops: Cell::new(0),
            epoch: Cell::new(0),
            monitor: MonitorSlot::default(),
            stats: Counters::default(),
            send_waiters: RefCell::new(Vec::new()),
            ready_streak: Cell::new(0),
        })
    }

    /// A core on a fake wire: no socket, no source, no factory; the test
    /// kit drives it (see `crate::testing`).
    pub(crate) fn open_fake(
        reactor: &Reactor<S>,
        kind: zmq::SocketType,
        refused: Refused,
        options: &ZmqOptions,
    ) -> (Rc<Self>, Rc<FakeWire>) {
        let wire = Rc::new(FakeWire::default());
        let name = format!("fake {} connection", socket_type_name(kind));
        let core = Self::build(
            Socket::Fake(wire.clone()),
            kind,
            refused,
            reactor,
            Weak::new(),
            name,
            options,
        );
        (core, wire)
    }

    /// The connection's name with its endpoints, for errors and logs.
    pub(crate) fn describe(&self) -> String {
        let endpoints = self.endpoints.borrow();
        if endpoints.is_empty() {
            self.name.clone()
        } else {
            let list: Vec<String> = endpoints.iter().map(ToString::to_string).collect();
            format!("{} [{}]", self.name, list.join(", "))
        }
    }

    /// The factory the connection was made from, while it exists.
    pub(crate) fn factory(&self) -> Option<ZmqFactory<S>> {
        self.factory.upgrade().map(|inner| ZmqFactory { inner })
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.socket.borrow().is_none()
    }

    /// Whether this connection talks through a fake wire (protocol tests).
    pub(crate) fn is_fake(&self) -> bool {
        matches!(self.socket.borrow().as_ref(), Some(Socket::Fake(_)))
    }

    /// Subscribes (`on`) or unsubscribes a SUB socket to `tag`; a fake
    /// connection records it.
    pub(crate) fn set_subscription(&self, on: bool, tag: &[u8]) -> Result<()> {
        let operation = if on { "subscribe" } else { "unsubscribe" };
        let outcome = {
            let socket = self.socket.borrow();
            match socket.as_ref() {
                Some(Socket::Zmq(socket)) if on => socket.set_subscribe(tag),
                Some(Socket::Zmq(socket)) => socket.set_unsubscribe(tag),
                Some(Socket::Fake(wire)) => {
                    wire.subscriptions.borrow_mut().push((on, tag.to_vec()));
                    Ok(())
                }
                None => return Err(self.closed(operation)),
            }
        };
        self.touched();
        outcome.map_err(|source| Error::Option {
            option: operation,
            connection: self.describe(),
            source,
        })
    }

    fn closed(&self, operation: &'static str) -> Error {
        Error::Closed {
            operation,
            connection: self.describe(),
        }
    }

    /// Runs `f` on the socket, or fails with `Closed` naming `operation`.
    pub(crate) fn with_socket<R>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&zmq::Socket) -> R,
    ) -> Result<R> {
        let socket = self.socket.borrow();
        match socket.as_ref() {
            Some(Socket::Zmq(socket)) => Ok(f(socket)),
            Some(Socket::Fake(_)) => Err(Error::Socket {
                context: format!(
                    "{operation} on the {}: a fake connection has no libzmq socket",
                    self.describe()
                ),
                source: zmq::Error::ENOTSUP,
            }),
            None => Err(self.closed(operation)),
        }
    }

    pub(crate) fn add_endpoints(&self, endpoints: &[ZmqEndpoint]) -> Result<()> {
        for endpoint in endpoints {
            if !endpoint.port_in_range() {
                // libzmq wraps an out-of-range port (70000 becomes 4464).
                return Err(Error::Endpoint {
                    endpoint: endpoint.clone(),
                    source: zmq::Error::EINVAL,
                });
            }
            if self.is_fake() {
                self.endpoints.borrow_mut().push(endpoint.clone());
                continue;
            }
            let outcome = self.with_socket("add an endpoint", |socket| match endpoint.kind {
                ZmqEndpointType::Bind => socket.bind(&endpoint.address),
                ZmqEndpointType::Connect => socket.connect(&endpoint.address),
            })?;
            outcome.map_err(|source| Error::Endpoint {
                endpoint: endpoint.clone(),
                source,
            })?;
            self.endpoints.borrow_mut().push(endpoint.clone());
        }
        self.touched();
        Ok(())
    }

    pub(crate) fn endpoints(&self) -> Vec<ZmqEndpoint> {
        self.endpoints.borrow().clone()
    }

    pub(crate) fn last_endpoint(&self) -> Result<String> {
        if self.is_fake() {
            let last = self.endpoints.borrow().last().map(|e| e.address.clone());
            return Ok(last.unwrap_or_default());
        }
        let outcome = self.with_socket("read the last endpoint", |s| s.get_last_endpoint())?;
        match outcome {
            Ok(Ok(endpoint)) => Ok(endpoint),
            Ok(Err(bytes)) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
            Err(source) => Err(Error::Socket {
                context: format!("read the last endpoint of the {}", self.describe()),
                source,
            }),
        }
    }

    /// Invariant 3: after touching the socket, make the reactor look at it
    /// again before it blocks. Inside `on_ready` that look is its last step,
    /// so only the operation is counted.
    pub(crate) fn touched(&self) {
        self.ops.set(self.ops.get().wrapping_add(1));
        if !self.dispatching.get() {
            self.wake();
        }
    }

    fn wake(&self) {
        if let (Some(id), Some(reactor)) = (self.source.get(), self.reactor.upgrade()) {
            reactor.wake_source(id);
        }
    }

    pub(crate) fn outbox_len(&self) -> usize {
        self.outbox.borrow().len()
    }

    pub(crate) fn outbox_bytes(&self) -> usize {
        self.outbox.borrow().bytes()
    }

    /// A snapshot of the connection's counters.
    pub(crate) fn stats(&self) -> ConnectionStats {
        let outbox = self.outbox.borrow();
        ConnectionStats {
            outbox_len: outbox.len(),
            outbox_bytes: outbox.bytes(),
            outbox_high_mark: outbox.high_mark(),
            paused: self.paused.get(),
            ..self.stats.snapshot()
        }
    }

    /// Takes out of the outbox the queued messages `dead` picks (a REQ
    /// request that timed out before it could leave); returns how many.
    pub(crate) fn unqueue(&self, dead: impl Fn(&Multipart) -> bool) -> usize {
        let removed = self.outbox.borrow_mut().remove_where(dead);
        if removed > 0 {
            // A producer paused on a full outbox may resume.
            self.touched();
        }
        removed
    }

    /// Logs a malformed message from a peer that was dropped, at a bounded
    /// rate: a peer cannot flood the log.
    pub(crate) fn dropped_malformed(&self, why: &str) {
        add(&self.stats.dropped_malformed, 1);
        self.malformed.borrow_mut().warn(
            || self.describe(),
            "malformed messages dropped",
            || format!("dropped {why}"),
        );
    }

    /// [`send`](Self::send) for anything a connection's send methods take.
    /// One frame of plain bytes, with nothing queued ahead of it, goes
    /// straight to libzmq (one copy, no [`Frame`]); everything else, and a
    /// first attempt libzmq refused, takes the general path.
    pub(crate) fn send_message(
        &self,
        message: impl IntoMultipart,
        operation: &'static str,
    ) -> Result<()> {
        if let Some(bytes) = message.single_frame_bytes() {
            if self.outbox.borrow().is_empty() {
                let sent = match self.socket.borrow().as_ref() {
                    Some(socket) => socket.send_bytes(bytes),
                    None => false,
                };
                if sent {
                    self.stats.sent(bytes.len());
                    self.touched();
                    return Ok(());
                }
            }
        }
        self.send(message.into_multipart(), operation)
    }

    /// Sends a whole multipart message now, or queues it whole if libzmq
    /// cannot take it yet. Never half-sent; never calls a protocol.
    pub(crate) fn send(&self, message: Multipart, operation: &'static str) -> Result<()> {
        if message.is_empty() {
            return Err(Error::Socket {
                context: format!(
                    "{operation} on the {}: a message needs at least one frame",
                    self.describe()
                ),
                source: zmq::Error::EINVAL,
            });
        }
        let queued = !self.outbox.borrow().is_empty();
        let outcome = if queued {
            Err((zmq::Error::EAGAIN, message))
        } else {
            let socket = self.socket.borrow();
            match socket.as_ref() {
                Some(socket) => {
                    let size = message.byte_len();
                    let outcome = socket.send(message);
                    if outcome.is_ok() {
                        self.stats.sent(size);
                    }
                    outcome
                }
                None => return Err(self.closed(operation)),
            }
        };
        let result = match outcome {
            Ok(()) => Ok(()),
            Err((zmq::Error::EAGAIN, message)) if !message.is_empty() => {
                if self.is_closed() {
                    return Err(self.closed(operation));
                }
                match self.refused {
                    Refused::Drop => {
                        add(&self.stats.dropped_hwm, 1);
                        log::debug!(
                            "{}: message dropped (no peer can take it now)",
                            self.describe()
                        );
                        Ok(())
                    }
                    Refused::Fail => Err(Error::Socket {
                        context: format!(
                            "{operation} on the {}: the recipient is at its high-water mark; \
                             the message was not sent",
                            self.describe()
                        ),
                        source: zmq::Error::EAGAIN,
                    }),
                    Refused::Queue => {
                        let queued = self.outbox.borrow_mut().push_back(message);
                        match queued {
                            Ok(()) => {
                                add(&self.stats.queued, 1);
                                Ok(())
                            }
                            Err(full) => {
                                add(&self.stats.dropped_outbox_full, 1);
                                Err(Error::OutboxFull {
                                    connection: self.describe(),
                                    limit: full.limit,
                                    messages: full.messages,
                                    bytes: full.bytes,
                                    byte_limit: full.byte_limit,
                                })
                            }
                        }
                    }
                }
            }
            Err((source, _)) => Err(Error::Socket {
                context: format!("{operation} on the {}", self.describe()),
                source,
            }),
        };
        if let Err(Error::Socket { .. }) = result {
            add(&self.stats.send_errors, 1);
        }
        self.touched();
        result
    }

    /// Sends queued messages until libzmq pushes back. Returns whether any
    /// message left the outbox.
    fn flush(&self) -> bool {
        let mut progress = false;
        loop {
            let Some((message, size)) = self.outbox.borrow_mut().pop_front() else {
                return progress;
            };
            let outcome = {
                let socket = self.socket.borrow();
                match socket.as_ref() {
                    Some(socket) => socket.send(message),
                    None => return progress,
                }
            };
            match outcome {
                Ok(()) => {
                    self.stats.sent(size);
                    progress = true;
                }
                Err((zmq::Error::EAGAIN, message)) if !message.is_empty() => {
                    self.outbox.borrow_mut().push_front(message, size);
                    return progress;
                }
                // Closing: the message is counted with the outbox's rest.
                Err((zmq::Error::ETERM, message)) if !message.is_empty() => {
                    self.outbox.borrow_mut().push_front(message, size);
                    self.failed("send", zmq::Error::ETERM);
                    return progress;
                }
                Err((e, _)) => {
                    add(&self.stats.send_errors, 1);
                    progress = true;
                    log::error!(
                        "{}: a queued message could not be sent and was dropped: {e}",
                        self.describe()
                    );
                }
            }
        }
    }

    /// `ZMQ_EVENTS` for the user ([`Connection::events`](crate::Connection::events)):
    /// the read may consume the fd's edge, so it counts as an operation on
    /// the socket and the reactor looks again (invariant 3).
    pub(crate) fn poll_events(&self) -> Result<zmq::PollEvents> {
        let events = match self.socket.borrow().as_ref() {
            Some(socket) => socket.events().map_err(|source| Error::Socket {
                context: format!("read ZMQ_EVENTS of the {}", self.describe()),
                source,
            }),
            None => Err(self.closed("read ZMQ_EVENTS")),
        };
        self.touched();
        events
    }

    fn events(&self) -> Option<zmq::PollEvents> {
        let socket = self.socket.borrow();
        match socket.as_ref()?.events() {
            Ok(events) => Some(events),
            Err(e) => {
                self.failed("cannot read ZMQ_EVENTS", e);
                None
            }
        }
    }

    #[inline(always)]
    fn recv(&self) -> Result<Received, zmq::Error> {
        match self.socket.borrow().as_ref() {
            Some(socket) => socket.recv(self.count_bytes),
            None => Ok(Received::Nothing),
        }
    }

    #[inline]
    fn recv_into(&self, frames: &mut Vec<Frame>) -> Result<Received, zmq::Error> {
        match self.socket.borrow().as_ref() {
            Some(socket) => socket.recv_into(frames, self.count_bytes),
            None => Ok(Received::Nothing),
        }
    }

    /// Logs a socket operation that failed. `ETERM` (the context was shut
    /// down, and every later operation fails the same way) marks the
    /// connection to close at the end of the pass instead.
    fn failed(&self, what: &str, e: zmq::Error) {
        if e != zmq::Error::ETERM {
            log::error!("{}: {what}: {e}", self.describe());
        } else if !self.terminated.replace(true) {
            log::info!(
                "{}: its ZeroMQ context was shut down; closing",
                self.describe()
            );
        }
    }

    /// The source handler: runs whenever `ZMQ_FD` signals or the source was woken.
    ///
    /// Returns whether to look again on the next pass (invariants 3 and 4);
    /// the source's closure wakes the source for that.
    pub(crate) fn on_ready(self: &Rc<Self>, cx: &mut Ctx<'_, S>) -> bool {
        let mut again = self.dispatch(cx);
        if self.terminated.get() {
            self.shutdown_in(Some(cx), LostReason::ContextTerminated);
            again = false;
        }
        // After the producer heard of it: the tasks in `send_ready`.
        self.wake_senders();
        again
    }

    /// What [`on_ready`](Self::on_ready) does before it wakes the senders.
    fn dispatch(self: &Rc<Self>, cx: &mut Ctx<'_, S>) -> bool {
        let _dispatch = Dispatch::begin(self);
        if self.made_pending.get() {
            self.deliver(cx, |h, cx, core| h.made(cx, core));
        }
        // A flush that moved nothing despite POLLOUT waits for the next edge
        // rather than spinning (libzmq's POLLOUT can mean "some peer", not
        // the one at the head of the outbox).
        let mut stuck = false;
        // The operation count at which libzmq last reported, with its
        // commands processed, that there is nothing to receive.
        let mut drained_at = None;
        if self.outbox.borrow().is_empty() && self.reading() {
            // Nothing waits for POLLOUT, so the look is the first `recv`:
            // it processes libzmq's commands as a `ZMQ_EVENTS` read does,
            // and returns a message or EAGAIN (drained).
            drained_at = self.receive_batch(cx);
        } else {
            let Some(mut events) = self.events() else {
                return false;
            };
            if events.contains(zmq::POLLOUT) && !self.outbox.borrow().is_empty() {
                stuck = !self.flush();
                match self.events() {
                    Some(e) => events = e,
                    None => return false,
                }
            }
            if !events.contains(zmq::POLLIN) {
                drained_at = Some(self.ops.get());
            } else if self.reading() {
                drained_at = self.receive_batch(cx);
            }
        }
        let produce_again = self.drive_producer(cx);
        // Invariants 3 and 4: look again before the reactor blocks, unless
        // nothing touched the socket since it was seen drained (any later
        // command from libzmq's I/O thread signals `ZMQ_FD` afresh) and no
        // queued message waits for POLLOUT.
        let mut again = produce_again || self.made_pending.get();
        let settled = drained_at == Some(self.ops.get()) && self.outbox.borrow().is_empty();
        if !settled {
            if let Some(events) = self.events() {
                let more_in = events.contains(zmq::POLLIN) && self.reading();
                let more_out =
                    !stuck && events.contains(zmq::POLLOUT) && !self.outbox.borrow().is_empty();
                again |= more_in || more_out;
            }
        }
        // A stuck flush waits for the next edge, but every `ZMQ_EVENTS`
        // read or `recv` after it processed libzmq's commands, perhaps the
        // one that made room (a PUB with XPUB_NODROP reports POLLOUT
        // whatever its pipes hold, so POLLOUT cannot tell): that edge is
        // spent. So the last operation is one more send attempt. If it
        // fails, any later command signals `ZMQ_FD` afresh; if it moves a
        // message, look again.
        if stuck && !again && !self.outbox.borrow().is_empty() && self.flush() {
            again = true;
        }
        again
    }

    /// Tells a registered producer to pause when the outbox holds messages
    /// and to resume once it drained; a pull (non-streaming) producer is
    /// asked for more on every pass while the outbox is empty. Returns
    /// whether to come back on the next pass for that.
    fn drive_producer(self: &Rc<Self>, cx: &mut Ctx<'_, S>) -> bool {
        let backlog = !self.outbox.borrow().is_empty();
        let (mut producer, serial, call) = {
            let mut slot = self.producer.borrow_mut();
            if slot.producer.is_none() || self.is_closed() {
                return false;
            }
            let call = match (backlog, slot.paused, slot.streaming) {
                (true, false, _) => {
                    slot.paused = true;
                    Some(false)
                }
                (false, true, _) => {
                    slot.paused = false;
                    Some(true)
                }
                (false, false, false) => Some(true),
                _ => None,
            };
            let Some(call) = call else {
                return false;
            };
            let Some(producer) = slot.producer.take() else {
                return false;
            };
            (producer, slot.serial, call)
        };
        if call {
            producer.resume(cx, self);
        } else {
            producer.pause(cx, self);
        }
        if self.is_closed() {
            // Shut down from inside the call: shutdown found the slot empty,
            // so the producer hears stop_producing here.
            producer.stop(cx, self);
            return false;
        }
        let mut slot = self.producer.borrow_mut();
        let again = slot.serial == serial && slot.producer.is_none();
        if again {
            slot.producer = Some(producer);
            !slot.streaming && !slot.paused && self.outbox.borrow().is_empty() && !self.is_closed()
        } else {
            drop(slot);
            drop(producer);
            false
        }
    }

    /// Whether a send may go now without waiting, for
    /// [`Connection::send_ready`](crate::Connection::send_ready): ready once
    /// the outbox is empty (the condition under which a streaming producer
    /// is resumed), `Err(Closed)` after shutdown; otherwise the task's
    /// waker is kept until the outbox drains or the connection shuts down.
    ///
    /// After [`BATCH`] ready answers in a row with no wait between them,
    /// the next one yields once (wakes the task and returns `Pending`), so
    /// a task that sends to a peer that always keeps up (or on a pattern
    /// that never queues, as PUB) cannot keep the reactor from its other
    /// sources.
    pub(crate) fn poll_send_ready(&self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        if self.is_closed() {
            return Poll::Ready(Err(self.closed("wait to send")));
        }
        if self.outbox.borrow().is_empty() {
            let streak = self.ready_streak.get() + 1;
            if streak > BATCH {
                self.ready_streak.set(0);
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            self.ready_streak.set(streak);
            return Poll::Ready(Ok(()));
        }
        self.ready_streak.set(0);
        let mut waiters = self.send_waiters.borrow_mut();
        if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
            waiters.push(cx.waker().clone());
        }
        Poll::Pending
    }

    /// Wakes the tasks in `send_ready` once the outbox is empty or the
    /// connection closed (their next poll says which).
    fn wake_senders(&self) {
        if self.send_waiters.borrow().is_empty()
            || !(self.outbox.borrow().is_empty() || self.is_closed())
        {
            return;
        }
        let waiters = std::mem::take(&mut *self.send_waiters.borrow_mut());
        // Outside the borrow: a waker is foreign code.
        for waker in waiters {
            waker.wake();
        }
    }

    /// Registers a producer (replacing any other); `streaming` as Twisted's
    /// `registerProducer`.
    pub(crate) fn set_producer(
        &self,
        producer: Option<Box<dyn ProducerHandler<S>>>,
        streaming: bool,
    ) -> Result<()> {
        if producer.is_some() && self.is_closed() {
            return Err(self.closed("register a producer"));
        }
        let old = {
            let mut slot = self.producer.borrow_mut();
            slot.serial += 1;
            slot.streaming = streaming;
            slot.paused = false;
            std::mem::replace(&mut slot.producer, producer)
        };
        drop(old);
        self.touched();
        Ok(())
    }

    fn reading(&self) -> bool {
        !self.paused.get() && self.has_handler.get() && !self.is_closed()
    }

    /// Ends the batch under way, if any, after its current message.
    fn end_batch(&self) {
        self.epoch.set(self.epoch.get().wrapping_add(1));
    }

    /// Delivers up to [`BATCH`] messages. Returns the operation count at
    /// which libzmq reported the socket drained, if the batch ended so.
    fn receive_batch(self: &Rc<Self>, cx: &mut Ctx<'_, S>) -> Option<u64> {
        let mut taken = self.take_handler()?;
        let drained_at = match taken.handler.as_mut() {
            Some(handler) => handler.receive(cx, self),
            None => None,
        };
        taken.put_back(cx);
        drained_at
    }

    /// The batch loop of a handler that takes each message whole: receives
    /// up to [`BATCH`] messages and hands each to `deliver`. It stops early
    /// when the batch is ended (paused, shut down, handed to a new protocol)
    /// or the reactor is stopping. Returns the operation count at which
    /// libzmq reported the socket drained, if the batch ended so.
    #[inline]
    pub(crate) fn receive_owned(
        &self,
        cx: &mut Ctx<'_, S>,
        mut deliver: impl FnMut(&mut Ctx<'_, S>, Multipart),
    ) -> Option<u64> {
        let epoch = self.epoch.get();
        for _ in 0..BATCH {
            match self.recv() {
                Ok(Received::Message(message, bytes)) => {
                    self.stats.received(bytes);
                    deliver(cx, message);
                }
                Ok(Received::Drained) => return Some(self.ops.get()),
                Ok(Received::Nothing | Received::Borrowed(_)) => return None,
                Err(e) => {
                    self.failed("receive failed", e);
                    return None;
                }
            }
            if self.epoch.get() != epoch || cx.reactor.is_stopping() {
                return None;
            }
        }
        None
    }

    /// [`receive_owned`](Self::receive_owned) for a handler that borrows
    /// each message's frames from a buffer the core reuses.
    #[inline]
    pub(crate) fn receive_borrowed(
        &self,
        cx: &mut Ctx<'_, S>,
        mut deliver: impl FnMut(&mut Ctx<'_, S>, &[Frame]),
    ) -> Option<u64> {
        let epoch = self.epoch.get();
        // The reused frames, out of the core while user code runs.
        let mut frames = std::mem::take(&mut *self.scratch.borrow_mut());
        let mut drained_at = None;
        for _ in 0..BATCH {
            match self.recv_into(&mut frames) {
                // `recv_into` leaves exactly the message's frames.
                Ok(Received::Borrowed(bytes)) => {
                    self.stats.received(bytes);
                    deliver(cx, &frames);
                }
                Ok(Received::Drained) => {
                    drained_at = Some(self.ops.get());
                    break;
                }
                Ok(Received::Nothing | Received::Message(..)) => break,
                Err(e) => {
                    self.failed("receive failed", e);
                    break;
                }
            }
            if self.epoch.get() != epoch || cx.reactor.is_stopping() {
                break;
            }
        }
        *self.scratch.borrow_mut() = frames;
        drained_at
    }

    /// [`receive_owned`](Self::receive_owned) for a handler that reads
    /// each frame into `buffer`, its own (pyzmq's `recv_into`): hands
    /// `deliver` one [`FrameInto`] per frame, the frames of up to [`BATCH`]
    /// messages. The batch ends only between messages, so a message's
    /// frames all go to the same `deliver`. The socket is not borrowed
    /// while `deliver` runs (it may send, pause or shut down).
    ///
    /// `next_index` is the index of the next frame to read, kept by the
    /// handler: it is advanced before `deliver` runs, so if `deliver`
    /// panics in the middle of a message, the rest of that message still
    /// comes with its own indices on the next pass (not as a new message).
    #[inline]
    pub(crate) fn receive_into(
        &self,
        cx: &mut Ctx<'_, S>,
        buffer: &mut [u8],
        scratch: &mut Frame,
        next_index: &mut usize,
        mut deliver: impl FnMut(&mut Ctx<'_, S>, FrameInto<'_>),
    ) -> Option<u64> {
        let epoch = self.epoch.get();
        for _ in 0..BATCH {
            let mut bytes = 0;
            loop {
                let found = match self.socket.borrow().as_ref() {
                    Some(socket) => socket.recv_frame_into(buffer, scratch),
                    None => Ok(FrameIn::Nothing),
                };
                match found {
                    Ok(FrameIn::Frame { len, more }) => {
                        bytes += len;
                        let index = *next_index;
                        *next_index = if more { index + 1 } else { 0 };
                        let copied = len.min(buffer.len());
                        deliver(cx, FrameInto::new(&buffer[..copied], len, index, more));
                        if !more {
                            break;
                        }
                    }
                    // Only the first frame of a message can find nothing.
                    Ok(FrameIn::Drained) if *next_index == 0 => return Some(self.ops.get()),
                    Ok(FrameIn::Drained | FrameIn::Nothing) => return None,
                    Err(e) => {
                        self.failed("receive failed", e);
                        return None;
                    }
                }
            }
            self.stats.received(bytes);
            if self.epoch.get() != epoch || cx.reactor.is_stopping() {
                return None;
            }
        }
        None
    }

    fn take_handler(self: &Rc<Self>) -> Option<TakenHandler<'_, S>> {
        let mut slot = self.slot.borrow_mut();
        let serial = slot.serial;
        let handler = slot.handler.take()?;
        Some(TakenHandler {
            core: self,
            handler: Some(handler),
            serial,
        })
    }

    /// Calls the handler with `f`, taking it out of its slot meanwhile.
    fn deliver(
        self: &Rc<Self>,
        cx: &mut Ctx<'_, S>,
        f: impl FnOnce(&mut dyn Handler<S>, &mut Ctx<'_, S>, &Rc<Self>),
    ) {
        if let Some(mut taken) = self.take_handler() {
            self.made_pending.set(false);
            if let Some(handler) = taken.handler.as_mut() {
                f(handler.as_mut(), cx, self);
            }
            taken.put_back(cx);
        }
    }

    /// Delivers a monitor event to the protocol, after `connection_made` if
    /// that is still to come.
    pub(crate) fn deliver_monitor(self: &Rc<Self>, cx: &mut Ctx<'_, S>, event: &MonitorEvent) {
        if let Some(mut taken) = self.take_handler() {
            if let Some(handler) = taken.handler.as_mut() {
                if self.made_pending.replace(false) {
                    handler.made(cx, self);
                }
                handler.monitor(cx, self, event);
            }
            taken.put_back(cx);
        }
    }

    /// Returns a handler to its slot if the slot still expects it; else hands
    /// it back to be dropped outside the borrow.
    fn restore(&self, handler: Box<dyn Handler<S>>, serial: u64) -> Option<Box<dyn Handler<S>>> {
        let mut slot = self.slot.borrow_mut();
        if slot.serial == serial && slot.handler.is_none() && !self.is_closed() {
            slot.handler = Some(handler);
            None
        } else {
            Some(handler)
        }
    }

    /// Installs a new handler: `connection_made` first, then messages.
    pub(crate) fn set_handler(&self, handler: Box<dyn Handler<S>>) -> Result<()> {
        if self.is_closed() {
            return Err(self.closed("set a protocol"));
        }
        let old = {
            let mut slot = self.slot.borrow_mut();
            slot.serial += 1;
            slot.handler.replace(handler)
        };
        self.end_batch();
        drop(old);
        self.has_handler.set(true);
        self.made_pending.set(true);
        self.touched();
        Ok(())
    }

    /// Removes the protocol if it is still the one set as `serial` (a
    /// dropped stream's): nothing is read until another is set, so messages
    /// wait in libzmq for it. Returns whether it was removed.
    pub(crate) fn remove_handler(&self, serial: u64) -> bool {
        let old = {
            let mut slot = self.slot.borrow_mut();
            if slot.serial != serial {
                return false;
            }
            slot.serial += 1;
            slot.handler.take()
        };
        self.end_batch();
        self.has_handler.set(false);
        self.made_pending.set(false);
        drop(old);
        true
    }

    /// The serial of the protocol set last.
    pub(crate) fn handler_serial(&self) -> u64 {
        self.slot.borrow().serial
    }

    /// Stops reading (Twisted's `pauseProducing`): messages wait in libzmq,
    /// where the high-water mark applies.
    pub(crate) fn pause(&self) {
        if !self.paused.get() && !self.is_closed() {
            add(&self.stats.pauses, 1);
        }
        self.paused.set(true);
        self.end_batch();
    }

    /// Resumes reading.
    pub(crate) fn resume(&self) {
        self.paused.set(false);
        self.touched();
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.paused.get()
    }

    /// Closes the connection: what is left in the outbox gets one last try,
    /// the fd leaves the reactor, the monitor (if any) stops and is read to
    /// its end, the socket closes with its linger, and the protocol hears
    /// the monitor's last events and `connection_lost` (at once if `cx` is
    /// given or the state is free, else on the next pass).
    pub(crate) fn shutdown_in(self: &Rc<Self>, cx: Option<&mut Ctx<'_, S>>, reason: LostReason) {
        if self.is_closed() {
            return;
        }
        self.flush();
        let dropped = self.outbox.borrow_mut().clear();
        add(&self.stats.dropped_at_shutdown, dropped as u64);
        self.malformed
            .borrow_mut()
            .finish(|| self.describe(), "malformed messages dropped");
        if dropped > 0 {
            log::warn!(
                "{}: {dropped} queued message(s) dropped at shutdown",
                self.describe()
            );
        }
        let reactor = self.reactor.upgrade();
        if let (Some(id), Some(reactor)) = (self.source.take(), reactor.as_ref()) {
            reactor.remove_source(id); // invariant 6: deregister before closing
        }
        // Before the socket closes: libzmq's monitor writes its last event
        // when told to stop, and its reader must outlive it.
        let events = monitor::shut(self);
        let socket = self.socket.borrow_mut().take();
        self.end_batch();
        drop(socket);
        if let Some(factory) = self.factory.upgrade() {
            factory.unregister(self.factory_key.replace(usize::MAX));
        }
        let farewell = Farewell {
            made: self.made_pending.get() && !events.is_empty(),
            events,
            lost: ConnectionLost { reason, dropped },
        };
        self.wake_senders();
        let producer = {
            let mut slot = self.producer.borrow_mut();
            slot.serial += 1;
            slot.producer.take()
        };
        if let Some(mut producer) = producer {
            match self.reactor.upgrade() {
                Some(reactor) => {
                    let core = self.clone();
                    // stop_producing needs a context; run it on the next pass.
                    reactor.call_later(std::time::Duration::ZERO, move |cx| {
                        producer.stop(cx, &core)
                    });
                }
                None => drop(producer),
            }
        }
        let taken = self.take_handler().and_then(|mut t| t.handler.take());
        self.has_handler.set(false);
        let last = match taken {
            Some(handler) => Some((handler, farewell)),
            None => {
                // The handler is running (we were called from inside it): it
                // hears of the loss when it returns.
                *self.lost_pending.borrow_mut() = Some(farewell);
                None
            }
        };
        if last.is_none() && !monitor::undelivered(self) {
            return;
        }
        // The monitor's last events, to the protocol and to the
        // `on_monitor` closure, then `connection_lost`.
        let mut last_words = Some(move |cx: &mut Ctx<'_, S>, core: &Rc<Self>| {
            let mut last = last;
            if let Some((handler, farewell)) = last.as_mut() {
                farewell.events(handler.as_mut(), cx, core);
            }
            monitor::pump(core, cx);
            if let Some((mut handler, farewell)) = last {
                farewell.deliver(handler.as_mut(), cx, core);
            }
        });
        if let Some(cx) = cx {
            if let Some(f) = last_words.take() {
                f(cx, self);
            }
            return;
        }
        let Some(reactor) = reactor else {
            return;
        };
        let core = self.clone();
        let delivered = reactor.with_ctx(|cx| {
            if let Some(f) = last_words.take() {
                f(cx, &core);
            }
        });
        if delivered.is_err() {
            if let Some(f) = last_words.take() {
                let core = self.clone();
                reactor.call_later(std::time::Duration::ZERO, move |cx| f(cx, &core));
            }
        }
    }

    pub(crate) fn reactor(&self) -> Option<Reactor<S>> {
        self.reactor.upgrade()
    }
}

/// Marks a connection as inside `on_ready` for as long as it lives. If a
/// protocol panics through it, the source is woken so the connection is
/// looked at again on the next pass.
struct Dispatch<'a, S: 'static> {
    core: &'a Core<S>,
}

impl<'a, S: 'static> Dispatch<'a, S> {
    fn begin(core: &'a Core<S>) -> Self {
        core.dispatching.set(true);
        Dispatch { core }
    }
}

impl<S: 'static> Drop for Dispatch<'_, S> {
    fn drop(&mut self) {
        self.core.dispatching.set(false);
        if std::thread::panicking() {
            self.core.wake();
        }
    }
}

/// A handler taken out of its slot for a call. Put back with `put_back`;
/// if the call panics instead, dropping the guard during the unwind puts it
/// back and wakes the source, so the connection keeps reading on the next
/// pass (the reactor logs the panic, or lets it unwind, as configured).
struct TakenHandler<'a, S: 'static> {
    core: &'a Rc<Core<S>>,
    handler: Option<Box<dyn Handler<S>>>,
    serial: u64,
}

impl<S: 'static> TakenHandler<'_, S> {
    /// Puts the handler back unless it was replaced meanwhile, and delivers
    /// a `connection_lost` that happened during the call.
    fn put_back(mut self, cx: &mut Ctx<'_, S>) {
        let Some(mut handler) = self.handler.take() else {
            return;
        };
        let farewell = self.core.lost_pending.borrow_mut().take();
        if let Some(farewell) = farewell {
            farewell.deliver(handler.as_mut(), cx, self.core);
            return;
        }
        let leftover = self.core.restore(handler, self.serial);
        drop(leftover);
    }
}

impl<S: 'static> Drop for TakenHandler<'_, S> {
    fn drop(&mut self) {
        if let Some(mut handler) = self.handler.take() {
            log::error!(
                "{}: its protocol panicked; the connection carries on",
                self.core.describe()
            );
            let farewell = self.core.lost_pending.borrow_mut().take();
            if let Some(farewell) = farewell {
                // Shut down during the call that panicked: the protocol
                // still hears connection_lost, on the next pass.
                if let Some(reactor) = self.core.reactor() {
                    let core = self.core.clone();
                    reactor.call_later(std::time::Duration::ZERO, move |cx| {
                        farewell.deliver(handler.as_mut(), cx, &core)
                    });
                }
                return;
            }
            let leftover = self.core.restore(handler, self.serial);
            drop(leftover);
            self.core.touched();
        }
    }
}

impl<S: 'static> Drop for Core<S> {
    fn drop(&mut self) {
        // Only reached once the factory let go (after shutdown, or with the
        // factory itself): take the fd out of the reactor before the socket closes.
        if let (Some(id), Some(reactor)) = (self.source.get(), self.reactor.upgrade()) {
            reactor.remove_source(id);
        }
        // A monitor still running is stopped before its reader goes.
        monitor::forget(self);
    }
}
