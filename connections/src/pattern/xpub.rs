//! XPUB: a publisher that hears its subscribers' subscriptions.

use tx0mq_reactor::CallbackResult;

use crate::connection::{Connection, Protocol, ZmqCtx};
use crate::core::ConnectionLost;
use crate::error::Result;
use crate::frames::{Frame, Multipart};
use crate::pattern::topic::TopicSep;
use crate::pattern::{Decoded, Pattern};

/// The XPUB pattern: PUB's framing; what it receives are subscriptions.
#[derive(Clone, Debug, Default)]
pub struct XPub {
    sep: TopicSep,
}

impl Pattern for XPub {
    /// `(subscribe, topic)`: `true` for a subscription, `false` for its undoing.
    type Event = (bool, Frame);

    fn socket_type(&self) -> zmq::SocketType {
        zmq::XPUB
    }

    fn decode(&self, message: Multipart) -> Decoded<(bool, Frame)> {
        match message.first().filter(|f| !f.is_empty() && f[0] <= 1) {
            Some(first) => Decoded::Event((first[0] == 1, Frame::from(&first[1..]))),
            None => Decoded::Malformed(
                "a message that is not a subscription (\\x00 or \\x01, then the topic)".into(),
            ),
        }
    }
}

/// A publisher that hears its subscribers' subscriptions (XPUB). Publishes
/// with txZMQ's framing, like [`ZmqPubConnection`](crate::ZmqPubConnection).
pub type ZmqXPubConnection<S = ()> = Connection<XPub, S>;

/// A protocol for a [`ZmqXPubConnection`]: it hears subscriptions.
pub trait XPubProtocol<S: 'static = ()>: 'static {
    /// The connection is ready.
    fn connection_made(&mut self, _cx: &mut ZmqCtx<'_, S, ZmqXPubConnection<S>>) {}
    /// A subscriber subscribed (`subscribe == true`) or unsubscribed `topic`.
    fn subscription(
        &mut self,
        cx: &mut ZmqCtx<'_, S, ZmqXPubConnection<S>>,
        subscribe: bool,
        topic: Frame,
    );
    /// The connection was shut down.
    fn connection_lost(
        &mut self,
        _cx: &mut ZmqCtx<'_, S, ZmqXPubConnection<S>>,
        _lost: &ConnectionLost,
    ) {
    }
    crate::monitor::monitor_hooks!(ZmqXPubConnection<S>);
}

impl<S: 'static, P: XPubProtocol<S>> Protocol<XPub, S> for P {
    fn connection_made(&mut self, cx: &mut ZmqCtx<'_, S, ZmqXPubConnection<S>>) {
        XPubProtocol::connection_made(self, cx);
    }
    fn received(
        &mut self,
        cx: &mut ZmqCtx<'_, S, ZmqXPubConnection<S>>,
        (subscribe, topic): (bool, Frame),
    ) {
        self.subscription(cx, subscribe, topic);
    }
    fn connection_lost(
        &mut self,
        cx: &mut ZmqCtx<'_, S, ZmqXPubConnection<S>>,
        lost: &ConnectionLost,
    ) {
        XPubProtocol::connection_lost(self, cx, lost);
    }
    crate::monitor::forward_monitor_hooks!(XPubProtocol<S>, ZmqXPubConnection<S>);
}

impl<S: 'static> Connection<XPub, S> {
    /// Publishes like [`ZmqPubConnection::publish`](crate::ZmqPubConnection::publish).
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown.
    pub fn publish(&self, message: impl AsRef<[u8]>, tag: impl AsRef<[u8]>) -> Result<()> {
        let frame = self.pattern.sep.tagged(tag.as_ref(), message.as_ref());
        self.core.send_message(frame, "publish")
    }

    /// Changes the separator between tag and message.
    pub fn set_topic_sep(&self, sep: impl AsRef<[u8]>) {
        self.pattern.sep.set(sep.as_ref());
    }

    /// Sets a closure as `subscription(subscribe, topic)`.
    pub fn on_subscription<F, R>(&self, mut f: F)
    where
        F: FnMut(&mut ZmqCtx<'_, S, ZmqXPubConnection<S>>, bool, Frame) -> R + 'static,
        R: CallbackResult,
    {
        self.set_named(
            move |cx, (subscribe, topic)| f(cx, subscribe, topic),
            "subscription",
        );
    }
}
