//! Raw ROUTER: txZMQ's `ZmqRouterConnection`.

use tx0mq_reactor::CallbackResult;

use crate::connection::{Connection, Protocol, ZmqCtx};
use crate::core::ConnectionLost;
use crate::error::Result;
use crate::frames::{Frame, IntoMultipart, Multipart};
use crate::pattern::{Decoded, Pattern, Refused};

/// The ROUTER pattern: each message comes with its sender's routing id and
/// goes to a recipient's.
#[derive(Clone, Copy, Debug, Default)]
pub struct Router;

impl Pattern for Router {
    /// `(sender, parts)`.
    type Event = (Frame, Multipart);

    fn socket_type(&self) -> zmq::SocketType {
        zmq::ROUTER
    }

    fn when_refused(&self) -> Refused {
        Refused::Fail
    }

    fn decode(&self, mut message: Multipart) -> Decoded<(Frame, Multipart)> {
        if message.is_empty() {
            return Decoded::Malformed("an empty message".into());
        }
        let parts = message.split_off(1);
        match message.pop() {
            Some(sender) => Decoded::Event((sender, parts)),
            None => Decoded::Malformed("a message with no routing id".into()),
        }
    }
}

/// A raw ROUTER connection (txZMQ's `ZmqRouterConnection`): messages come
/// with their sender's routing id and go to a recipient's.
///
/// A ROUTER never queues (see [`send_msg`](Connection::send_msg)): at the
/// default high-water mark (1000 per peer) libzmq drops messages for a peer
/// that does not keep up. txZMQ sets no limit;
/// `ZmqOptions::new().high_water_mark(0)` matches it, and
/// `router_mandatory(true)` turns drops into errors.
///
/// ```
/// use tx0mq_connections::{ZmqDealerConnection, ZmqEndpoint, ZmqFactory, ZmqOptions, ZmqRouterConnection};
/// use tx0mq_reactor::Reactor;
///
/// let reactor = Reactor::builder().handle_signals(false).build()?;
/// let factory = ZmqFactory::new(&reactor)?;
/// let router = ZmqRouterConnection::new(&factory, ZmqEndpoint::bind("inproc://doc-router"))?;
/// router.got_message(|cx, sender, parts| cx.conn.send_msg(&sender, parts));
/// let dealer = ZmqDealerConnection::with_options(
///     &factory,
///     ZmqEndpoint::connect("inproc://doc-router"),
///     &ZmqOptions::new().identity(b"dealer-1"),
/// )?;
/// dealer.got_message(|cx, parts| {
///     assert_eq!(&parts[0][..], b"echo");
///     cx.reactor.stop()
/// });
/// dealer.send_msg(b"echo")?;
/// reactor.run()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type ZmqRouterConnection<S = ()> = Connection<Router, S>;

/// A protocol for a [`ZmqRouterConnection`] (txZMQ: override `gotMessage`).
pub trait RouterProtocol<S: 'static = ()>: 'static {
    /// The connection is ready.
    fn connection_made(&mut self, _cx: &mut ZmqCtx<'_, S, ZmqRouterConnection<S>>) {}
    /// A message arrived from the peer with routing id `sender`.
    fn got_message(
        &mut self,
        cx: &mut ZmqCtx<'_, S, ZmqRouterConnection<S>>,
        sender: Frame,
        parts: Multipart,
    );
    /// The connection was shut down.
    fn connection_lost(
        &mut self,
        _cx: &mut ZmqCtx<'_, S, ZmqRouterConnection<S>>,
        _lost: &ConnectionLost,
    ) {
    }
    crate::monitor::monitor_hooks!(ZmqRouterConnection<S>);
}

impl<S: 'static, P: RouterProtocol<S>> Protocol<Router, S> for P {
    fn connection_made(&mut self, cx: &mut ZmqCtx<'_, S, ZmqRouterConnection<S>>) {
        RouterProtocol::connection_made(self, cx);
    }
    fn received(
        &mut self,
        cx: &mut ZmqCtx<'_, S, ZmqRouterConnection<S>>,
        (sender, parts): (Frame, Multipart),
    ) {
        self.got_message(cx, sender, parts);
    }
    fn connection_lost(
        &mut self,
        cx: &mut ZmqCtx<'_, S, ZmqRouterConnection<S>>,
        lost: &ConnectionLost,
    ) {
        RouterProtocol::connection_lost(self, cx, lost);
    }
    crate::monitor::forward_monitor_hooks!(RouterProtocol<S>, ZmqRouterConnection<S>);
}

impl<S: 'static> Connection<Router, S> {
    /// Sends `parts` to the peer whose routing id is `recipient`: the frames
    /// `[recipient, parts...]` (txZMQ's `sendMsg` / `sendMultipart`).
    ///
    /// A ROUTER never queues in the outbox: without `router_mandatory`,
    /// libzmq drops a message to an unknown peer or to one at its high-water
    /// mark; with it, the send fails and the caller decides (a queue would
    /// hold every other peer's messages behind one slow peer).
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown; with `router_mandatory`, an unknown
    /// recipient is `Error::Socket` (EHOSTUNREACH) and one at its high-water
    /// mark `Error::Socket` (EAGAIN).
    pub fn send_msg(&self, recipient: &[u8], parts: impl IntoMultipart) -> Result<()> {
        let parts = parts.into_multipart();
        let mut message = Multipart::with_capacity(parts.len() + 1);
        message.push(recipient);
        message.extend(parts);
        self.core.send(message, "send")
    }

    /// Sets a closure as `got_message(sender, parts)`.
    pub fn got_message<F, R>(&self, mut f: F)
    where
        F: FnMut(&mut ZmqCtx<'_, S, ZmqRouterConnection<S>>, Frame, Multipart) -> R + 'static,
        R: CallbackResult,
    {
        self.set_named(
            move |cx, (sender, parts)| f(cx, sender, parts),
            "got_message",
        );
    }
}
