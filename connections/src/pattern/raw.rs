//! Any socket type, raw multipart messages: txZMQ's `ZmqConnection`.

use tx0mq_reactor::CallbackResult;

use crate::connection::{Connection, IntoEndpoints, Protocol, ZmqCtx};
use crate::core::ConnectionLost;
use crate::error::Result;
use crate::factory::ZmqFactory;
use crate::frames::{IntoMultipart, Multipart};
use crate::options::ZmqOptions;
use crate::pattern::{Decoded, Pattern, Refused};

/// The raw pattern: any libzmq socket type, messages as they come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Raw {
    kind: zmq::SocketType,
}

impl Raw {
    /// The raw pattern over `kind`.
    pub fn new(kind: zmq::SocketType) -> Self {
        Raw { kind }
    }
}

impl Pattern for Raw {
    type Event = Multipart;

    fn socket_type(&self) -> zmq::SocketType {
        self.kind
    }

    fn when_refused(&self) -> Refused {
        Refused::for_socket(self.kind)
    }

    fn decode(&self, message: Multipart) -> Decoded<Multipart> {
        Decoded::Event(message)
    }
}

/// A connection over any socket type, delivering raw multipart messages
/// (txZMQ's `ZmqConnection`).
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
pub type ZmqConnection<S = ()> = Connection<Raw, S>;

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
    crate::monitor::monitor_hooks!(ZmqConnection<S>);
}

impl<S: 'static, P: ZmqProtocol<S>> Protocol<Raw, S> for P {
    fn connection_made(&mut self, cx: &mut ZmqCtx<'_, S, ZmqConnection<S>>) {
        ZmqProtocol::connection_made(self, cx);
    }
    fn received(&mut self, cx: &mut ZmqCtx<'_, S, ZmqConnection<S>>, message: Multipart) {
        self.message_received(cx, message);
    }
    fn connection_lost(&mut self, cx: &mut ZmqCtx<'_, S, ZmqConnection<S>>, lost: &ConnectionLost) {
        ZmqProtocol::connection_lost(self, cx, lost);
    }
    crate::monitor::forward_monitor_hooks!(ZmqProtocol<S>, ZmqConnection<S>);
}

impl<S: 'static> Connection<Raw, S> {
    /// A connection of `socket_type`, bound or connected to `endpoints`.
    ///
    /// # Errors
    ///
    /// As for [`Connection::open`].
    pub fn new(
        factory: &ZmqFactory<S>,
        socket_type: zmq::SocketType,
        endpoints: impl IntoEndpoints,
    ) -> Result<Self> {
        Self::with_options(factory, socket_type, endpoints, &ZmqOptions::default())
    }

    /// A connection of `socket_type` with socket options.
    ///
    /// # Errors
    ///
    /// As for [`Connection::open`].
    pub fn with_options(
        factory: &ZmqFactory<S>,
        socket_type: zmq::SocketType,
        endpoints: impl IntoEndpoints,
        options: &ZmqOptions,
    ) -> Result<Self> {
        Self::open(factory, Raw::new(socket_type), endpoints, options)
    }

    /// Sets a closure as the protocol's `message_received` (txZMQ:
    /// `conn.messageReceived = f`). It may return `()` or a `Result`, whose
    /// error is logged.
    pub fn message_received<F, R>(&self, f: F)
    where
        F: FnMut(&mut ZmqCtx<'_, S, ZmqConnection<S>>, Multipart) -> R + 'static,
        R: CallbackResult,
    {
        self.set_named(f, "message_received");
    }

    /// Sends a message, whole. If libzmq cannot take it now (high-water mark,
    /// or no peer yet for PUSH/DEALER), it waits in the outbox and goes out,
    /// in order, as soon as libzmq can take it. PUB and ROUTER never queue.
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown; `Error::OutboxFull` when the outbox is
    /// at its limit (the message was not sent); `Error::Socket` if libzmq
    /// refuses it for another reason (a socket type that cannot send, say).
    pub fn send(&self, message: impl IntoMultipart) -> Result<()> {
        self.core.send_message(message, "send")
    }
}

/// Forwards every message from `frontend` to `backend` and back, whole, as
/// `zmq_proxy` does, but inside the reactor (for the zguide's brokers and
/// devices). Replaces both connections' protocols. A thin call of
/// [`Device::proxy`](crate::Device::proxy), which holds backpressure (a side
/// stops reading while the other cannot take more) and offers a capture, a
/// control and statistics; a pair of connections between which nothing can
/// flow is logged.
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
    if let Err(e) = crate::device::Device::proxy(frontend, backend) {
        log::warn!("proxy: {e}");
    }
}
