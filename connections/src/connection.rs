//! [`Connection`]: what every connection has, whatever its pattern, and the
//! context its protocol's callbacks get.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use tx0mq_reactor::{CallbackResult, Ctx, Reactor};

use crate::core::{ConnectionLost, Core, Handler, LostReason, ProducerHandler};
use crate::endpoint::ZmqEndpoint;
use crate::error::Result;
use crate::factory::ZmqFactory;
use crate::frames::{Frame, Multipart};
use crate::monitor::MonitorEvent;
use crate::options::ZmqOptions;
use crate::pattern::{BorrowedFrames, Decoded, Pattern, Raw, ZmqConnection};

/// What a protocol's callbacks get: the reactor, the application state (see
/// [`tx0mq_reactor::Ctx`]), and the connection the event came from (`conn`,
/// txZMQ's `self`), to reply, send or shut down.
pub struct ZmqCtx<'a, S: 'static, C> {
    /// The reactor: schedule calls, stop it...
    pub reactor: &'a Reactor<S>,
    /// The application state shared by every callback of the reactor.
    pub state: &'a mut S,
    /// The connection the event belongs to.
    pub conn: &'a C,
}

impl<S: 'static, C> ZmqCtx<'_, S, C> {
    /// The plain reactor context (reactor and state), for helpers shared by
    /// connection callbacks and timers that take a `&mut Ctx<S>`.
    pub fn ctx(&mut self) -> Ctx<'_, S> {
        Ctx {
            reactor: self.reactor,
            state: &mut *self.state,
        }
    }
}

impl<S: 'static, C> fmt::Debug for ZmqCtx<'_, S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ZmqCtx")
    }
}

/// Calls `f` with a [`ZmqCtx`] for `conn`, borrowing the reactor context.
#[inline(always)]
pub(crate) fn with_zcx<S: 'static, C, R>(
    cx: &mut Ctx<'_, S>,
    conn: &C,
    f: impl FnOnce(&mut ZmqCtx<'_, S, C>) -> R,
) -> R {
    let mut zcx = ZmqCtx {
        reactor: cx.reactor,
        state: &mut *cx.state,
        conn,
    };
    f(&mut zcx)
}

/// One or several endpoints, as the constructors accept them.
pub trait IntoEndpoints {
    /// The endpoints, in order.
    fn into_endpoints(self) -> Vec<ZmqEndpoint>;
}

impl IntoEndpoints for ZmqEndpoint {
    fn into_endpoints(self) -> Vec<ZmqEndpoint> {
        vec![self]
    }
}

impl IntoEndpoints for Option<ZmqEndpoint> {
    fn into_endpoints(self) -> Vec<ZmqEndpoint> {
        self.into_iter().collect()
    }
}

impl IntoEndpoints for Vec<ZmqEndpoint> {
    fn into_endpoints(self) -> Vec<ZmqEndpoint> {
        self
    }
}

impl IntoEndpoints for &[ZmqEndpoint] {
    fn into_endpoints(self) -> Vec<ZmqEndpoint> {
        self.to_vec()
    }
}

impl<const N: usize> IntoEndpoints for [ZmqEndpoint; N] {
    fn into_endpoints(self) -> Vec<ZmqEndpoint> {
        self.to_vec()
    }
}

/// A connection: one ZeroMQ socket in the reactor, speaking pattern `K`.
///
/// txZMQ's connection types are aliases of it (`ZmqPushConnection<S>` is
/// `Connection<Push, S>`, ...; see [`pattern`](crate::pattern)). The methods
/// here work on every one of them; each pattern adds its own operations
/// (`push`, `publish`, `send_msg`, `reply`, ...) and its protocol trait.
/// Cloning gives another handle to the same connection.
///
/// Until a protocol is set, nothing is read: messages wait in libzmq (REQ
/// excepted: it reads its replies).
pub struct Connection<K: Pattern, S: 'static = ()> {
    pub(crate) core: Rc<Core<S>>,
    pub(crate) pattern: K,
}

impl<K: Pattern, S: 'static> Clone for Connection<K, S> {
    fn clone(&self) -> Self {
        Connection {
            core: self.core.clone(),
            pattern: self.pattern.clone(),
        }
    }
}

/// `Connection<Pull>(PULL connection [bind tcp://127.0.0.1:5555])`: the
/// pattern, the socket type and the endpoints.
impl<K: Pattern, S: 'static> fmt::Debug for Connection<K, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pattern = std::any::type_name::<K>();
        let pattern = pattern.rsplit("::").next().unwrap_or(pattern);
        write!(f, "Connection<{pattern}>({})", self.core.describe())
    }
}

/// A protocol: what a connection's events are delivered to (txZMQ: the
/// methods a connection subclass overrides).
///
/// Each pattern has a protocol trait with txZMQ's method names
/// ([`PullProtocol::on_pull`](crate::PullProtocol::on_pull),
/// [`SubProtocol::got_message`](crate::SubProtocol::got_message), ...) that
/// implements this one; implement that. This generic form is what
/// [`Connection::set_protocol`] takes, and what a new pattern's users
/// implement directly.
///
/// # Peers
///
/// ZeroMQ hides its peers, so `connection_made` and `connection_lost`
/// concern the socket, not a peer. Once the connection is monitored
/// ([`Connection::monitor`]), the peers show through four more hooks, all
/// no-ops by default: [`monitor_event`](Self::monitor_event) hears every
/// event, then [`peer_connected`](Self::peer_connected),
/// [`peer_disconnected`](Self::peer_disconnected) or
/// [`handshake_failed`](Self::handshake_failed) hears the ones it names.
/// For a socket with one peer, they are what Twisted's `connectionMade` and
/// `connectionLost` are for a TCP protocol. Every pattern's protocol trait
/// ([`PullProtocol`](crate::PullProtocol), ...) has the same hooks.
pub trait Protocol<K: Pattern, S: 'static = ()>: 'static {
    /// The connection is registered and ready; called before any event.
    fn connection_made(&mut self, _cx: &mut ZmqCtx<'_, S, Connection<K, S>>) {}
    /// A message arrived, as the pattern decoded it.
    fn received(&mut self, cx: &mut ZmqCtx<'_, S, Connection<K, S>>, event: K::Event);
    /// The connection was shut down (by the user, the factory or the
    /// reactor). The last thing the protocol hears: the monitor's last
    /// events come before it.
    fn connection_lost(
        &mut self,
        _cx: &mut ZmqCtx<'_, S, Connection<K, S>>,
        _lost: &ConnectionLost,
    ) {
    }
    crate::monitor::monitor_hooks!(Connection<K, S>);
}

/// What a connection's events are delivered to, inside the crate: a user's
/// [`Protocol`] (through [`Named`]), a closure, a stream, or nothing. Kept
/// apart from `Protocol` so that each pattern's protocol trait can implement
/// `Protocol` for every type that implements it.
pub(crate) trait Listener<K: Pattern, S: 'static>: 'static {
    fn made(&mut self, _cx: &mut ZmqCtx<'_, S, Connection<K, S>>) {}
    /// A message arrived: the pattern decodes it for `received`. A listener
    /// that wants the frames as they came overrides this.
    #[inline(always)]
    fn message(&mut self, cx: &mut ZmqCtx<'_, S, Connection<K, S>>, message: Multipart) {
        match cx.conn.pattern.decode(message) {
            Decoded::Event(event) if K::NOTIFY_PANIC => {
                let _unwind = PanicNotice(&cx.conn.pattern);
                self.received(cx, event);
            }
            Decoded::Event(event) => self.received(cx, event),
            Decoded::Consumed => {}
            Decoded::Malformed(why) => cx.conn.core.dropped_malformed(&why),
        }
    }
    fn received(&mut self, cx: &mut ZmqCtx<'_, S, Connection<K, S>>, event: K::Event);
    fn lost(&mut self, _cx: &mut ZmqCtx<'_, S, Connection<K, S>>, _lost: &ConnectionLost) {}
    /// A socket-monitor event.
    fn monitor(&mut self, _cx: &mut ZmqCtx<'_, S, Connection<K, S>>, _event: &MonitorEvent) {}
    /// Whether the listener reads borrowed frames ([`frames`](Self::frames)).
    fn borrows(&self) -> bool {
        false
    }
    fn frames(&mut self, _cx: &mut ZmqCtx<'_, S, Connection<K, S>>, _frames: &[Frame]) {}
    /// A listener with its own way of receiving a batch (`on_recv_into`)
    /// does it here and returns `Some` of what the core's batch loop
    /// returned; `None` (the default) means the usual paths.
    fn receive_batch(
        &mut self,
        _cx: &mut Ctx<'_, S>,
        _core: &Rc<Core<S>>,
        _conn: &Connection<K, S>,
    ) -> Option<Option<u64>> {
        None
    }
}

/// Tells the pattern when its protocol panics on an event (see
/// [`Pattern::protocol_panicked`]): dropped during the unwind.
struct PanicNotice<'a, K: Pattern>(&'a K);

impl<K: Pattern> Drop for PanicNotice<'_, K> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.protocol_panicked();
        }
    }
}

/// A user's protocol as a listener.
struct Named<P>(P);

impl<K: Pattern, S: 'static, P: Protocol<K, S>> Listener<K, S> for Named<P> {
    fn made(&mut self, cx: &mut ZmqCtx<'_, S, Connection<K, S>>) {
        self.0.connection_made(cx);
    }
    fn received(&mut self, cx: &mut ZmqCtx<'_, S, Connection<K, S>>, event: K::Event) {
        self.0.received(cx, event);
    }
    fn lost(&mut self, cx: &mut ZmqCtx<'_, S, Connection<K, S>>, lost: &ConnectionLost) {
        self.0.connection_lost(cx, lost);
    }
    fn monitor(&mut self, cx: &mut ZmqCtx<'_, S, Connection<K, S>>, event: &MonitorEvent) {
        self.0.monitor_event(cx, event);
        match event {
            MonitorEvent::Connected { endpoint, .. } | MonitorEvent::Accepted { endpoint, .. } => {
                self.0.peer_connected(cx, endpoint)
            }
            MonitorEvent::Disconnected { endpoint, .. } => self.0.peer_disconnected(cx, endpoint),
            failure if failure.is_handshake_failure() => self.0.handshake_failed(cx, failure),
            _ => {}
        }
    }
}

/// A closure as a listener; `name` says which callback failed when it
/// returns an error.
struct OnEvent<F> {
    name: &'static str,
    f: F,
}

impl<K: Pattern, S: 'static, F, R> Listener<K, S> for OnEvent<F>
where
    F: FnMut(&mut ZmqCtx<'_, S, Connection<K, S>>, K::Event) -> R + 'static,
    R: CallbackResult,
{
    #[inline(always)]
    fn received(&mut self, cx: &mut ZmqCtx<'_, S, Connection<K, S>>, event: K::Event) {
        (self.f)(cx, event).report(self.name);
    }
}

/// A closure that hears the frames as they came, before the pattern's
/// decoding (a SUB connection's `message_received`).
pub(crate) struct RawFrames<F> {
    pub(crate) name: &'static str,
    pub(crate) f: F,
}

impl<K: Pattern, S: 'static, F, R> Listener<K, S> for RawFrames<F>
where
    F: FnMut(&mut ZmqCtx<'_, S, Connection<K, S>>, Multipart) -> R + 'static,
    R: CallbackResult,
{
    fn message(&mut self, cx: &mut ZmqCtx<'_, S, Connection<K, S>>, message: Multipart) {
        (self.f)(cx, message).report(self.name);
    }
    fn received(&mut self, _cx: &mut ZmqCtx<'_, S, Connection<K, S>>, _event: K::Event) {}
}

/// A closure that borrows each message's frames from the core's reused
/// buffer (`on_frames`): no allocation per message.
struct OnFrames<F> {
    f: F,
}

impl<K: Pattern, S: 'static, F, R> Listener<K, S> for OnFrames<F>
where
    F: FnMut(&mut ZmqCtx<'_, S, Connection<K, S>>, &[Frame]) -> R + 'static,
    R: CallbackResult,
{
    fn received(&mut self, _cx: &mut ZmqCtx<'_, S, Connection<K, S>>, _event: K::Event) {}
    fn borrows(&self) -> bool {
        true
    }
    fn frames(&mut self, cx: &mut ZmqCtx<'_, S, Connection<K, S>>, frames: &[Frame]) {
        (self.f)(cx, frames).report("on_frames");
    }
}

/// The listener of a connection that reads with no protocol set (REQ).
struct NoProtocol;

impl<K: Pattern, S: 'static> Listener<K, S> for NoProtocol {
    fn received(&mut self, _cx: &mut ZmqCtx<'_, S, Connection<K, S>>, _event: K::Event) {}
}

/// What the core calls: the pattern decodes, the protocol hears.
struct PatternHandler<K, L> {
    pattern: K,
    listener: L,
}

impl<K: Pattern, L> PatternHandler<K, L> {
    fn view<S: 'static>(&self, core: &Rc<Core<S>>) -> Connection<K, S> {
        Connection {
            core: core.clone(),
            pattern: self.pattern.clone(),
        }
    }
}

impl<S: 'static, K: Pattern, L: Listener<K, S>> Handler<S> for PatternHandler<K, L> {
    fn made(&mut self, cx: &mut Ctx<'_, S>, core: &Rc<Core<S>>) {
        let conn = self.view(core);
        with_zcx(cx, &conn, |zcx| self.listener.made(zcx));
    }

    fn receive(&mut self, cx: &mut Ctx<'_, S>, core: &Rc<Core<S>>) -> Option<u64> {
        // One view for the whole batch, dropped with it (a view kept in the
        // handler would make the core own a handle of itself).
        let conn = self.view(core);
        let listener = &mut self.listener;
        if let Some(drained_at) = listener.receive_batch(cx, core, &conn) {
            return drained_at;
        }
        if listener.borrows() {
            core.receive_borrowed(cx, |cx, frames| {
                with_zcx(cx, &conn, |zcx| listener.frames(zcx, frames));
            })
        } else {
            core.receive_owned(cx, |cx, message| {
                with_zcx(cx, &conn, |zcx| listener.message(zcx, message));
            })
        }
    }

    fn lost(&mut self, cx: &mut Ctx<'_, S>, core: &Rc<Core<S>>, lost: &ConnectionLost) {
        self.pattern.lost(&core.describe(), lost);
        let conn = self.view(core);
        with_zcx(cx, &conn, |zcx| self.listener.lost(zcx, lost));
    }

    fn monitor(&mut self, cx: &mut Ctx<'_, S>, core: &Rc<Core<S>>, event: &MonitorEvent) {
        let conn = self.view(core);
        with_zcx(cx, &conn, |zcx| self.listener.monitor(zcx, event));
    }
}

impl<K: Pattern + Default, S: 'static> Connection<K, S> {
    /// A connection of this pattern, bound or connected to `endpoints`
    /// (`ZmqPushConnection::new(&factory, ZmqEndpoint::bind(...))`, as
    /// txZMQ's `ZmqPushConnection(factory, endpoint)`).
    ///
    /// # Errors
    ///
    /// As for [`with_options`](Self::with_options).
    pub fn new(factory: &ZmqFactory<S>, endpoints: impl IntoEndpoints) -> Result<Self> {
        Self::with_options(factory, endpoints, &ZmqOptions::default())
    }

    /// A connection of this pattern with socket options.
    ///
    /// # Errors
    ///
    /// As for [`open`](Self::open).
    pub fn with_options(
        factory: &ZmqFactory<S>,
        endpoints: impl IntoEndpoints,
        options: &ZmqOptions,
    ) -> Result<Self> {
        Self::open(factory, K::default(), endpoints, options)
    }
}

impl<K: Pattern, S: 'static> Connection<K, S> {
    /// A connection of `pattern`, with socket options: what `new` and
    /// `with_options` call, for patterns that carry values.
    ///
    /// # Errors
    ///
    /// `Error::Endpoint` naming the endpoint that could not be bound or
    /// connected; `Error::Option` naming a refused option; `Error::Closed` if
    /// the factory was shut down; `Error::Reactor` if the reactor is gone.
    pub fn open(
        factory: &ZmqFactory<S>,
        pattern: K,
        endpoints: impl IntoEndpoints,
        options: &ZmqOptions,
    ) -> Result<Self> {
        let core = Core::open(
            factory,
            pattern.socket_type(),
            pattern.when_refused(),
            &endpoints.into_endpoints(),
            options,
        )?;
        Self::around(core, pattern)
    }

    /// The connection over `core`: a pattern that reads with no protocol
    /// (REQ) gets its listener now.
    pub(crate) fn around(core: Rc<Core<S>>, pattern: K) -> Result<Self> {
        let conn = Connection { core, pattern };
        if conn.pattern.reads_without_protocol() {
            conn.set_listener(NoProtocol)?;
        }
        Ok(conn)
    }

    /// Sets the protocol that hears this connection's events, replacing any
    /// other: `connection_made` first, then its events. The pattern's own
    /// handling (a REQ connection's reply matching, a REP connection's
    /// routes) stays in place underneath.
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown.
    pub fn set_protocol(&self, protocol: impl Protocol<K, S>) -> Result<()> {
        self.set_listener(Named(protocol))
    }

    pub(crate) fn set_listener(&self, listener: impl Listener<K, S>) -> Result<()> {
        self.core.set_handler(Box::new(PatternHandler {
            pattern: self.pattern.clone(),
            listener,
        }))
    }

    /// Sets a closure as the protocol: it hears every event, as the pattern
    /// decodes it. Each pattern also has a setter with txZMQ's name
    /// (`on_pull`, `got_message`, ...); this one is for patterns of your own.
    /// The closure may return `()` or a `Result`, whose error is logged.
    pub fn on_event<F, R>(&self, f: F)
    where
        F: FnMut(&mut ZmqCtx<'_, S, Connection<K, S>>, K::Event) -> R + 'static,
        R: CallbackResult,
    {
        self.set_named(f, "received");
    }

    /// [`on_event`](Self::on_event) with the callback's name for the log.
    pub(crate) fn set_named<F, R>(&self, f: F, name: &'static str)
    where
        F: FnMut(&mut ZmqCtx<'_, S, Connection<K, S>>, K::Event) -> R + 'static,
        R: CallbackResult,
    {
        self.set_or_warn(OnEvent { name, f });
    }

    /// Sets a listener from a closure setter, which has no `Result` to
    /// return: a closed connection is logged.
    pub(crate) fn set_or_warn(&self, listener: impl Listener<K, S>) {
        if let Err(e) = self.set_listener(listener) {
            log::warn!("{e}");
        }
    }

    /// Sets a closure that reads each message's frames **borrowed** from a
    /// buffer the reactor reuses: no allocation and no fresh `zmq_msg_t` per
    /// message, for the receive paths where that matters (pyzmq's
    /// `recv_into`). The frames are the message as it came, before the
    /// pattern's decoding (a ROUTER's first frame is the sender's id, a SUB
    /// connection's frames are not split into tag and message); copy what
    /// must outlive the call. It replaces the protocol. The owning callbacks
    /// (`on_pull`, `got_message`, ...) stay what ports of txZMQ code use.
    ///
    /// ```
    /// use tx0mq_connections::{ZmqEndpoint, ZmqFactory, ZmqPullConnection, ZmqPushConnection};
    /// use tx0mq_reactor::Reactor;
    ///
    /// let reactor = Reactor::builder().state(0usize).handle_signals(false).build()?;
    /// let factory = ZmqFactory::new(&reactor)?;
    /// let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind("inproc://doc-frames"))?;
    /// pull.on_frames(|cx, frames| {
    ///     *cx.state += frames.iter().map(|f| f.len()).sum::<usize>();
    ///     if *cx.state == 6 {
    ///         cx.reactor.stop()?;
    ///     }
    ///     Ok::<(), tx0mq_reactor::Error>(())
    /// });
    /// let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect("inproc://doc-frames"))?;
    /// push.push([&b"abc"[..], b"de"])?;
    /// push.push(b"f")?;
    /// reactor.run()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on_frames<F, R>(&self, f: F)
    where
        K: BorrowedFrames,
        F: FnMut(&mut ZmqCtx<'_, S, Connection<K, S>>, &[Frame]) -> R + 'static,
        R: CallbackResult,
    {
        self.set_or_warn(OnFrames { f });
    }

    /// The pattern, with whatever it keeps per connection.
    pub fn pattern(&self) -> &K {
        &self.pattern
    }

    /// **The escape hatch**: the same socket as a raw [`ZmqConnection`],
    /// whose `send` and `message_received` bypass this pattern's framing.
    ///
    /// For what the pattern does not offer: receiving zguide-style plain
    /// frames on a SUB socket, say. What goes through it is not checked
    /// against the pattern: a message sent raw on a REQ connection carries
    /// no request id, and a raw protocol set on a REQ or REP connection
    /// replaces the request table or the routes (replies are then lost).
    pub fn raw(&self) -> ZmqConnection<S> {
        Connection {
            core: self.core.clone(),
            pattern: Raw::new(self.core.kind),
        }
    }

    /// Binds or connects more endpoints (txZMQ's `addEndpoints`).
    ///
    /// # Errors
    ///
    /// `Error::Endpoint` naming the first endpoint that failed (those before
    /// it stay added); `Error::Closed` after shutdown.
    pub fn add_endpoints(&self, endpoints: impl IntoEndpoints) -> Result<()> {
        self.core.add_endpoints(&endpoints.into_endpoints())
    }

    /// The endpoints added so far, as given.
    pub fn endpoints(&self) -> Vec<ZmqEndpoint> {
        self.core.endpoints()
    }

    /// The last endpoint bound or connected, resolved: `tcp://127.0.0.1:*`
    /// comes back with its real port.
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown.
    pub fn last_endpoint(&self) -> Result<String> {
        self.core.last_endpoint()
    }

    /// The libzmq socket type.
    pub fn socket_type(&self) -> zmq::SocketType {
        self.core.kind
    }

    /// Messages waiting in the outbox for libzmq to take them.
    pub fn outbox_len(&self) -> usize {
        self.core.outbox_len()
    }

    /// Bytes (all frames) waiting in the outbox.
    pub fn outbox_bytes(&self) -> usize {
        self.core.outbox_bytes()
    }

    /// Stops reading (Twisted's `pauseProducing`): messages wait in libzmq,
    /// where the high-water mark applies, until [`resume_reading`](Self::resume_reading).
    pub fn pause_reading(&self) {
        self.core.pause();
    }

    /// Resumes reading after [`pause_reading`](Self::pause_reading).
    pub fn resume_reading(&self) {
        self.core.resume();
    }

    /// True while reading is paused.
    pub fn is_paused(&self) -> bool {
        self.core.is_paused()
    }

    /// True after shutdown.
    pub fn is_closed(&self) -> bool {
        self.core.is_closed()
    }

    /// Runs `f` on the underlying socket, to set or read an option this
    /// crate has no method for. Do not send or receive through it.
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown; `Error::Socket` (ENOTSUP) on a fake
    /// connection ([`testing`](crate::testing)), which has no socket.
    pub fn with_socket<R>(&self, f: impl FnOnce(&zmq::Socket) -> R) -> Result<R> {
        let result = self.core.with_socket("use the socket", f);
        self.core.touched();
        result
    }

    /// Shuts the connection down (txZMQ's `shutdown`): queued messages get a
    /// last chance, the socket leaves the reactor and closes with its linger,
    /// and the protocol's `connection_lost` is called (now if possible, else
    /// on the next pass). Safe to call twice, and from inside the
    /// connection's own callbacks.
    pub fn shutdown(&self) {
        self.core.shutdown_in(None, LostReason::Shutdown);
    }

    /// The reactor this connection runs in, if it still exists.
    pub fn reactor(&self) -> Option<Reactor<S>> {
        self.core.reactor()
    }
}

/// A producer of messages for a connection (Twisted's `IPushProducer` /
/// `IPullProducer`), registered with [`Connection::register_producer`].
/// `K` is the pattern of the connection it feeds (raw by default).
///
/// A *streaming* producer sends whenever it likes; when a send has to wait in
/// the outbox (libzmq's high-water mark, or no peer yet) it is told to
/// `pause_producing`, and once the outbox has drained, to
/// `resume_producing`. A *pull* producer (`streaming == false`) is asked for
/// more with `resume_producing` on every pass while the outbox is empty: it
/// sends a chunk each time. Either way the reactor never spins while the peer
/// cannot take more.
///
/// A coroutine gets the same pacing without a producer: awaiting
/// [`Connection::send_ready`] before each send waits exactly while a
/// streaming producer would be paused.
pub trait ZmqProducer<S: 'static = (), K: Pattern = Raw>: 'static {
    /// Stop sending for now: the outbox holds messages libzmq could not take.
    fn pause_producing(&mut self, _cx: &mut ZmqCtx<'_, S, Connection<K, S>>) {}
    /// Send (more): the outbox is empty.
    fn resume_producing(&mut self, cx: &mut ZmqCtx<'_, S, Connection<K, S>>);
    /// The connection shut down: stop for good.
    fn stop_producing(&mut self, _cx: &mut ZmqCtx<'_, S, Connection<K, S>>) {}
}

struct ProducerAdapter<K, P> {
    pattern: K,
    producer: P,
}

impl<K: Pattern, P> ProducerAdapter<K, P> {
    fn view<S: 'static>(&self, core: &Rc<Core<S>>) -> Connection<K, S> {
        Connection {
            core: core.clone(),
            pattern: self.pattern.clone(),
        }
    }
}

impl<S: 'static, K: Pattern, P: ZmqProducer<S, K>> ProducerHandler<S> for ProducerAdapter<K, P> {
    fn pause(&mut self, cx: &mut Ctx<'_, S>, core: &Rc<Core<S>>) {
        let conn = self.view(core);
        with_zcx(cx, &conn, |zcx| self.producer.pause_producing(zcx));
    }
    fn resume(&mut self, cx: &mut Ctx<'_, S>, core: &Rc<Core<S>>) {
        let conn = self.view(core);
        with_zcx(cx, &conn, |zcx| self.producer.resume_producing(zcx));
    }
    fn stop(&mut self, cx: &mut Ctx<'_, S>, core: &Rc<Core<S>>) {
        let conn = self.view(core);
        with_zcx(cx, &conn, |zcx| self.producer.stop_producing(zcx));
    }
}

struct PullProducerFn<F>(F);

impl<S: 'static, K: Pattern, F> ZmqProducer<S, K> for PullProducerFn<F>
where
    F: FnMut(&mut ZmqCtx<'_, S, Connection<K, S>>) + 'static,
{
    fn resume_producing(&mut self, cx: &mut ZmqCtx<'_, S, Connection<K, S>>) {
        (self.0)(cx)
    }
}

impl<K: Pattern, S: 'static> Connection<K, S> {
    /// Registers a producer (Twisted's `registerProducer`), replacing any
    /// other. See [`ZmqProducer`] for `streaming`.
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown.
    pub fn register_producer(
        &self,
        producer: impl ZmqProducer<S, K>,
        streaming: bool,
    ) -> Result<()> {
        let adapter = ProducerAdapter {
            pattern: self.pattern.clone(),
            producer,
        };
        self.core.set_producer(Some(Box::new(adapter)), streaming)
    }

    /// A pull producer from a closure: `f` is called on every pass while the
    /// outbox is empty, to send the next chunk; unregister it when done.
    ///
    /// ```
    /// use tx0mq_connections::{ZmqEndpoint, ZmqFactory, ZmqPullConnection, ZmqPushConnection};
    /// use tx0mq_reactor::Reactor;
    ///
    /// let reactor = Reactor::builder().state(0u32).handle_signals(false).build()?;
    /// let factory = ZmqFactory::new(&reactor)?;
    /// let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind("inproc://doc-producer"))?;
    /// pull.on_pull(|cx, _| cx.reactor.stop());
    /// let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect("inproc://doc-producer"))?;
    /// push.produce_with(|cx| {
    ///     // Up to 100 messages a pass, 1,000 in all.
    ///     for _ in 0..100 {
    ///         *cx.state += 1;
    ///         if cx.conn.push(b"work").is_err() || *cx.state == 1_000 {
    ///             cx.conn.unregister_producer();
    ///             return;
    ///         }
    ///     }
    /// })?;
    /// reactor.run()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown.
    pub fn produce_with<F>(&self, f: F) -> Result<()>
    where
        F: FnMut(&mut ZmqCtx<'_, S, Connection<K, S>>) + 'static,
    {
        self.register_producer(PullProducerFn(f), false)
    }

    /// Unregisters the producer (Twisted's `unregisterProducer`).
    pub fn unregister_producer(&self) {
        let _ = self.core.set_producer(None, true);
    }

    /// Waits, in a coroutine, until a send can go without piling up in the
    /// outbox: the returned future is ready at once while the outbox is
    /// empty, and otherwise once it has drained (asyncio's
    /// `await writer.drain()`). A task that awaits it before each send
    /// never meets [`Error::OutboxFull`](crate::Error::OutboxFull), however
    /// far ahead of a slow peer it would run, and loses nothing.
    ///
    /// ```
    /// use tx0mq_connections::{ZmqEndpoint, ZmqFactory, ZmqPullConnection, ZmqPushConnection};
    /// use tx0mq_reactor::{Failure, Reactor};
    ///
    /// let reactor = Reactor::builder().handle_signals(false).build()?;
    /// let factory = ZmqFactory::new(&reactor)?;
    /// let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind("inproc://doc-ready"))?;
    /// let mut received = pull.messages()?;
    /// let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect("inproc://doc-ready"))?;
    /// let producer = reactor.spawn(async move {
    ///     for i in 0..20_000 {
    ///         push.send_ready().await?; // waits while the peer lags behind
    ///         push.push(i.to_string())?;
    ///     }
    ///     Ok::<_, Failure>(())
    /// });
    /// let r = reactor.clone();
    /// let consumer = reactor.spawn(async move {
    ///     let mut count = 0;
    ///     while received.next().await.is_some() {
    ///         count += 1;
    ///         if count == 20_000 {
    ///             break;
    ///         }
    ///     }
    ///     r.stop()?;
    ///     Ok::<_, Failure>(count)
    /// });
    /// reactor.run()?;
    /// assert!(producer.called() && consumer.called());
    /// # consumer.add_callback(|n| { assert_eq!(n, 20_000); Ok(n) });
    /// # producer.add_callback(|()| Ok(()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # How it waits
    ///
    /// A message goes into the outbox only when libzmq refused it (the
    /// peer's high-water mark, or no peer yet); the connection then flushes
    /// the outbox as libzmq takes messages again. `send_ready` waits for
    /// the same moment a registered streaming [`ZmqProducer`] is told to
    /// `resume_producing`: the outbox emptied. Until then the task sleeps;
    /// the connection's source wakes it when its flush empties the outbox
    /// (no polling, no timer), and shutdown wakes it with the error below.
    /// Between the future's return and your next send no other code runs,
    /// so that send finds the outbox empty: at most one message of the task
    /// ever waits there, with up to the high-water mark more inside libzmq.
    ///
    /// It is cancel-safe (dropping the future loses nothing) and, unlike a
    /// registered producer, any number of tasks can wait at once. A task
    /// whose sends never have to wait (a fast peer, or a PUB connection,
    /// which drops what libzmq refuses rather than queuing it) gets a ready
    /// future at once, except that after [`BATCH`](crate::BATCH) of those
    /// in a row the next one yields for one reactor pass, so such a loop
    /// cannot starve the connection's other sources and timers.
    ///
    /// On patterns that never queue (PUB drops, ROUTER, REP and STREAM
    /// fail with EAGAIN), the outbox stays empty and the future is always
    /// ready: there, backpressure is the pattern's own. So it is with an
    /// outbox limit of 0 ([`ZmqOptions::outbox_limit`](crate::ZmqOptions::outbox_limit)),
    /// which asks for `OutboxFull` instead of any wait.
    ///
    /// # Why not a `Sink`
    ///
    /// Each pattern sends its own way: `push(msg)`, `publish(msg, tag)`,
    /// `send_msg` (a REQ's returns a Deferred for the reply), a REP's
    /// `reply(id, msg)`, a ROUTER's `send_msg(peer, msg)`. A
    /// `futures::Sink` has one item type and would fix one of them (or go
    /// around the pattern's framing); a readiness future composes with all
    /// of them, keeps each send's own error, and buffers nothing of its
    /// own: the outbox and libzmq's pipe stay the only queues.
    ///
    /// # Errors
    ///
    /// The future fails with `Error::Closed` once the connection is shut
    /// down (before or while waiting).
    pub fn send_ready(&self) -> SendReady<S> {
        SendReady {
            core: Rc::clone(&self.core),
        }
    }
}

/// The future of [`Connection::send_ready`]: ready when a send can go
/// without piling up in the outbox.
#[must_use = "futures do nothing unless awaited"]
pub struct SendReady<S: 'static = ()> {
    core: Rc<crate::core::Core<S>>,
}

impl<S: 'static> fmt::Debug for SendReady<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendReady")
            .field("connection", &self.core.describe())
            .field("outbox", &self.core.outbox_len())
            .finish()
    }
}

impl<S: 'static> Future for SendReady<S> {
    type Output = Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.core.poll_send_ready(cx)
    }
}
