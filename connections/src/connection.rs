//! The generic [`ZmqConnection`], the context protocols get, and what every
//! connection type shares.

use std::fmt;
use std::rc::Rc;

use tx0mq_reactor::{CallbackResult, Ctx, Reactor};

use crate::core::{ConnectionLost, Core, Handler};
use crate::endpoint::ZmqEndpoint;
use crate::error::Result;
use crate::factory::ZmqFactory;
use crate::frames::{IntoMultipart, Multipart};
use crate::options::ZmqOptions;

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

/// A connection over any socket type, delivering raw multipart messages
/// (txZMQ's `ZmqConnection`). Every pattern type derefs to it, so its
/// methods (`shutdown`, `add_endpoints`, `last_endpoint`, ...) work on all.
///
/// Until a protocol is set, nothing is read: messages wait in libzmq.
///
/// ```
/// use tx0mq_connections::{ZmqConnection, ZmqEndpoint, ZmqFactory};
/// use tx0mq_reactor::Reactor;
///
/// let reactor = Reactor::builder().state(Vec::new()).handle_signals(false).build()?;
/// let factory = ZmqFactory::new(&reactor)?;
/// let a = ZmqConnection::new(&factory, zmq::PAIR, ZmqEndpoint::bind("inproc://doc-pair"))?;
/// let b = ZmqConnection::new(&factory, zmq::PAIR, ZmqEndpoint::connect("inproc://doc-pair"))?;
/// b.message_received(|cx, message| {
///     cx.state.push(message.iter().map(|f| f.to_vec()).collect::<Vec<_>>());
///     cx.reactor.stop()
/// });
/// a.send([&b"hello"[..], b"world"])?;
/// reactor.run()?;
/// assert_eq!(reactor.access_state(|got| got.clone())?, [vec![b"hello".to_vec(), b"world".to_vec()]]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ZmqConnection<S: 'static = ()> {
    pub(crate) core: Rc<Core<S>>,
}

impl<S: 'static> Clone for ZmqConnection<S> {
    fn clone(&self) -> Self {
        ZmqConnection {
            core: self.core.clone(),
        }
    }
}

impl<S: 'static> fmt::Debug for ZmqConnection<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.core.describe())
    }
}

/// A protocol for a [`ZmqConnection`] (txZMQ: subclass `ZmqConnection` and
/// override `messageReceived`).
pub trait ZmqProtocol<S: 'static = ()>: 'static {
    /// The connection is registered and ready; called before any message.
    fn connection_made(&mut self, _cx: &mut ZmqCtx<'_, S, ZmqConnection<S>>) {}
    /// A whole multipart message arrived.
    fn message_received(&mut self, cx: &mut ZmqCtx<'_, S, ZmqConnection<S>>, message: Multipart);
    /// The connection was shut down (by the user, the factory or the reactor).
    fn connection_lost(
        &mut self,
        _cx: &mut ZmqCtx<'_, S, ZmqConnection<S>>,
        _lost: &ConnectionLost,
    ) {
    }
}

struct FnProtocol<F>(F);

impl<S: 'static, F, R> ZmqProtocol<S> for FnProtocol<F>
where
    F: FnMut(&mut ZmqCtx<'_, S, ZmqConnection<S>>, Multipart) -> R + 'static,
    R: CallbackResult,
{
    fn message_received(&mut self, cx: &mut ZmqCtx<'_, S, ZmqConnection<S>>, message: Multipart) {
        (self.0)(cx, message).report("message_received");
    }
}

struct RawHandler<P>(P);

impl<S: 'static, P: ZmqProtocol<S>> Handler<S> for RawHandler<P> {
    made_and_lost!(|core, this| ZmqConnection { core: core.clone() });
    fn message(&mut self, cx: &mut Ctx<'_, S>, core: &Rc<Core<S>>, message: Multipart) {
        let conn = ZmqConnection { core: core.clone() };
        with_zcx(cx, &conn, |zcx| self.0.message_received(zcx, message));
    }
}

impl<S: 'static> ZmqConnection<S> {
    /// A connection of `socket_type`, bound or connected to `endpoints`.
    ///
    /// # Errors
    ///
    /// As for [`with_options`](Self::with_options).
    pub fn new(
        factory: &ZmqFactory<S>,
        socket_type: zmq::SocketType,
        endpoints: impl IntoEndpoints,
    ) -> Result<Self> {
        Self::with_options(factory, socket_type, endpoints, &ZmqOptions::default())
    }

    /// A connection with socket options.
    ///
    /// # Errors
    ///
    /// `Error::Endpoint` naming the endpoint that could not be bound or
    /// connected; `Error::Option` naming a refused option; `Error::Closed` if
    /// the factory was shut down; `Error::Reactor` if the reactor is gone.
    pub fn with_options(
        factory: &ZmqFactory<S>,
        socket_type: zmq::SocketType,
        endpoints: impl IntoEndpoints,
        options: &ZmqOptions,
    ) -> Result<Self> {
        let core = Core::open(factory, socket_type, &endpoints.into_endpoints(), options)?;
        Ok(ZmqConnection { core })
    }

    /// Sets the protocol that receives this connection's events.
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown.
    pub fn set_protocol(&self, protocol: impl ZmqProtocol<S>) -> Result<()> {
        self.core.set_handler(Box::new(RawHandler(protocol)))
    }

    /// Sets a closure as the protocol's `message_received` (txZMQ:
    /// `conn.messageReceived = f`). It may return `()` or a `Result`, whose
    /// error is logged.
    pub fn message_received<F, R>(&self, f: F)
    where
        F: FnMut(&mut ZmqCtx<'_, S, ZmqConnection<S>>, Multipart) -> R + 'static,
        R: CallbackResult,
    {
        crate::warn_closed(self.set_protocol(FnProtocol(f)));
    }

    /// Sends a message, whole. If libzmq cannot take it now (high-water mark,
    /// or no peer yet for PUSH/DEALER), it waits in the outbox and goes out,
    /// in order, as soon as libzmq can take it. PUB never queues.
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown; `Error::OutboxFull` when the outbox is
    /// at its limit (the message was not sent); `Error::Socket` if libzmq
    /// refuses it for another reason (a socket type that cannot send, say).
    pub fn send(&self, message: impl IntoMultipart) -> Result<()> {
        self.core.send_message(message, "send")
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

    /// The socket type.
    pub fn socket_type(&self) -> zmq::SocketType {
        self.core.kind
    }

    /// Messages waiting in the outbox for libzmq to take them.
    pub fn outbox_len(&self) -> usize {
        self.core.outbox_len()
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
    /// `Error::Closed` after shutdown.
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
        self.core
            .shutdown_in(None, crate::core::LostReason::Shutdown);
    }

    /// The reactor this connection runs in, if it still exists.
    pub fn reactor(&self) -> Option<Reactor<S>> {
        self.core.reactor()
    }
}

/// A producer of messages for a connection (Twisted's `IPushProducer` /
/// `IPullProducer`), registered with [`ZmqConnection::register_producer`].
///
/// A *streaming* producer sends whenever it likes; when a send has to wait in
/// the outbox (libzmq's high-water mark, or no peer yet) it is told to
/// `pause_producing`, and once the outbox has drained, to
/// `resume_producing`. A *pull* producer (`streaming == false`) is asked for
/// more with `resume_producing` on every pass while the outbox is empty: it
/// sends a chunk each time. Either way the reactor never spins while the peer
/// cannot take more.
pub trait ZmqProducer<S: 'static = ()>: 'static {
    /// Stop sending for now: the outbox holds messages libzmq could not take.
    fn pause_producing(&mut self, _cx: &mut ZmqCtx<'_, S, ZmqConnection<S>>) {}
    /// Send (more): the outbox is empty.
    fn resume_producing(&mut self, cx: &mut ZmqCtx<'_, S, ZmqConnection<S>>);
    /// The connection shut down: stop for good.
    fn stop_producing(&mut self, _cx: &mut ZmqCtx<'_, S, ZmqConnection<S>>) {}
}

struct ProducerAdapter<P>(P);

impl<S: 'static, P: ZmqProducer<S>> crate::core::ProducerHandler<S> for ProducerAdapter<P> {
    fn pause(&mut self, cx: &mut Ctx<'_, S>, core: &Rc<Core<S>>) {
        let conn = ZmqConnection { core: core.clone() };
        with_zcx(cx, &conn, |zcx| self.0.pause_producing(zcx));
    }
    fn resume(&mut self, cx: &mut Ctx<'_, S>, core: &Rc<Core<S>>) {
        let conn = ZmqConnection { core: core.clone() };
        with_zcx(cx, &conn, |zcx| self.0.resume_producing(zcx));
    }
    fn stop(&mut self, cx: &mut Ctx<'_, S>, core: &Rc<Core<S>>) {
        let conn = ZmqConnection { core: core.clone() };
        with_zcx(cx, &conn, |zcx| self.0.stop_producing(zcx));
    }
}

struct PullProducerFn<F>(F);

impl<S: 'static, F> ZmqProducer<S> for PullProducerFn<F>
where
    F: FnMut(&mut ZmqCtx<'_, S, ZmqConnection<S>>) + 'static,
{
    fn resume_producing(&mut self, cx: &mut ZmqCtx<'_, S, ZmqConnection<S>>) {
        (self.0)(cx)
    }
}

impl<S: 'static> ZmqConnection<S> {
    /// Registers a producer (Twisted's `registerProducer`), replacing any
    /// other. See [`ZmqProducer`] for `streaming`.
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown.
    pub fn register_producer(&self, producer: impl ZmqProducer<S>, streaming: bool) -> Result<()> {
        self.core
            .set_producer(Some(Box::new(ProducerAdapter(producer))), streaming)
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
    ///         if cx.conn.send(b"work").is_err() || *cx.state == 1_000 {
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
        F: FnMut(&mut ZmqCtx<'_, S, ZmqConnection<S>>) + 'static,
    {
        self.register_producer(PullProducerFn(f), false)
    }

    /// Unregisters the producer (Twisted's `unregisterProducer`).
    pub fn unregister_producer(&self) {
        let _ = self.core.set_producer(None, true);
    }
}

/// The `made` and `lost` methods of a pattern's `Handler`: build the
/// connection view with `$conn` (which may use `$core` and `$this`, the
/// handler), then call the protocol's `connection_made` / `connection_lost`.
macro_rules! made_and_lost {
    (|$core:ident, $this:ident| $conn:expr) => {
        fn made(
            &mut self,
            cx: &mut tx0mq_reactor::Ctx<'_, S>,
            $core: &std::rc::Rc<crate::core::Core<S>>,
        ) {
            #[allow(unused_variables)]
            let $this = &*self;
            let conn = $conn;
            crate::connection::with_zcx(cx, &conn, |zcx| self.0.connection_made(zcx));
        }

        fn lost(
            &mut self,
            cx: &mut tx0mq_reactor::Ctx<'_, S>,
            $core: &std::rc::Rc<crate::core::Core<S>>,
            lost: &crate::core::ConnectionLost,
        ) {
            #[allow(unused_variables)]
            let $this = &*self;
            let conn = $conn;
            crate::connection::with_zcx(cx, &conn, |zcx| self.0.connection_lost(zcx, lost));
        }
    };
}

pub(crate) use made_and_lost;

/// Implements `Clone`, `Debug` and `Deref<Target = ZmqConnection>` for a
/// connection type whose first field is `base: ZmqConnection<S>`.
macro_rules! connection_common {
    ($name:ident { $($field:ident),* }) => {
        impl<S: 'static> Clone for $name<S> {
            fn clone(&self) -> Self {
                $name {
                    base: self.base.clone(),
                    $($field: self.$field.clone(),)*
                }
            }
        }

        impl<S: 'static> std::fmt::Debug for $name<S> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.base)
            }
        }

        impl<S: 'static> std::ops::Deref for $name<S> {
            type Target = $crate::connection::ZmqConnection<S>;
            fn deref(&self) -> &Self::Target {
                &self.base
            }
        }
    };
}

pub(crate) use connection_common;

/// A pattern type's `new` and `with_options` (the only difference between
/// types is how `with_options` builds the connection). `$article_kind` is
/// "A PUSH", "An XPUB"...; doc attributes before it extend `new`'s docs.
macro_rules! constructors {
    (
        $(#[$extra:meta])*
        $article_kind:literal,
        |$factory:ident, $endpoints:ident, $options:ident| $body:block
    ) => {
        #[doc = concat!($article_kind, " connection on `endpoints`.")]
        $(#[$extra])*
        ///
        /// # Errors
        ///
        /// As for [`ZmqConnection::with_options`](crate::ZmqConnection::with_options).
        pub fn new(
            factory: &$crate::ZmqFactory<S>,
            endpoints: impl $crate::connection::IntoEndpoints,
        ) -> $crate::Result<Self> {
            Self::with_options(factory, endpoints, &$crate::ZmqOptions::default())
        }

        #[doc = concat!($article_kind, " connection with socket options.")]
        ///
        /// # Errors
        ///
        /// As for [`ZmqConnection::with_options`](crate::ZmqConnection::with_options).
        pub fn with_options(
            $factory: &$crate::ZmqFactory<S>,
            $endpoints: impl $crate::connection::IntoEndpoints,
            $options: &$crate::ZmqOptions,
        ) -> $crate::Result<Self> $body
    };
}

pub(crate) use constructors;

/// Forwards every message from `frontend` to `backend` and back, whole, as
/// `zmq_proxy` does, but inside the reactor (for the zguide's brokers and
/// devices). Replaces both connections' protocols.
///
/// ```
/// use tx0mq_connections::{proxy, ZmqConnection, ZmqEndpoint, ZmqFactory};
/// use tx0mq_reactor::Reactor;
///
/// let reactor = Reactor::builder().handle_signals(false).build()?;
/// let factory = ZmqFactory::new(&reactor)?;
/// let frontend = ZmqConnection::new(&factory, zmq::ROUTER, ZmqEndpoint::bind("inproc://doc-proxy-front"))?;
/// let backend = ZmqConnection::new(&factory, zmq::DEALER, ZmqEndpoint::bind("inproc://doc-proxy-back"))?;
/// proxy(&frontend, &backend);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn proxy<S: 'static>(frontend: &ZmqConnection<S>, backend: &ZmqConnection<S>) {
    let to_backend = backend.clone();
    frontend.message_received(move |_, message| to_backend.send(message));
    let to_frontend = frontend.clone();
    backend.message_received(move |_, message| to_frontend.send(message));
}
