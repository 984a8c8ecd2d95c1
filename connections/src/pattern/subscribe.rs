//! SUB with txZMQ's framing: txZMQ's `ZmqSubConnection`.

use tx0mq_reactor::CallbackResult;

use crate::connection::{Connection, Protocol, RawFrames, ZmqCtx};
use crate::core::ConnectionLost;
use crate::error::Result;
use crate::frames::{Frame, Multipart};
use crate::pattern::topic::TopicSep;
use crate::pattern::{Decoded, Pattern, XSub};

/// The SUB pattern, with its topic separator.
#[derive(Clone, Debug, Default)]
pub struct Sub {
    pub(crate) sep: TopicSep,
}

impl Pattern for Sub {
    type Event = (Frame, Frame);

    fn socket_type(&self) -> zmq::SocketType {
        zmq::SUB
    }

    fn decode(&self, message: Multipart) -> Decoded<(Frame, Frame)> {
        match self.sep.untag(message) {
            Ok(split) => Decoded::Event(split),
            Err(why) => Decoded::Malformed(format!("a malformed message: {why}")),
        }
    }
}

/// Subscribes to tagged messages (txZMQ's `ZmqSubConnection`). Subscribe
/// before messages can arrive; with no subscription nothing does.
///
/// It hears txZMQ's one frame `tag + separator + message` and the two-frame
/// `[tag, message]` that other publishers send, as
/// `got_message(message, tag)`. Anything else is logged and dropped. To
/// receive plain frames from publishers that use neither (zguide-style
/// `"10001 temp humidity"`), set
/// [`message_received`](Connection::message_received) instead.
pub type ZmqSubConnection<S = ()> = Connection<Sub, S>;

/// A protocol for a [`ZmqSubConnection`] (txZMQ: override `gotMessage`),
/// or, with `K = XSub`, for a [`ZmqXSubConnection`](crate::ZmqXSubConnection).
pub trait SubProtocol<S: 'static = (), K: Pattern = Sub>: 'static {
    /// The connection is ready; called before any message.
    fn connection_made(&mut self, _cx: &mut ZmqCtx<'_, S, Connection<K, S>>) {}
    /// A published message arrived, with its tag.
    fn got_message(&mut self, cx: &mut ZmqCtx<'_, S, Connection<K, S>>, message: Frame, tag: Frame);
    /// The connection was shut down.
    fn connection_lost(
        &mut self,
        _cx: &mut ZmqCtx<'_, S, Connection<K, S>>,
        _lost: &ConnectionLost,
    ) {
    }
    crate::monitor::monitor_hooks!(Connection<K, S>);
}

impl<S: 'static, P: SubProtocol<S, Sub>> Protocol<Sub, S> for P {
    fn connection_made(&mut self, cx: &mut ZmqCtx<'_, S, ZmqSubConnection<S>>) {
        SubProtocol::connection_made(self, cx);
    }
    fn received(
        &mut self,
        cx: &mut ZmqCtx<'_, S, ZmqSubConnection<S>>,
        (message, tag): (Frame, Frame),
    ) {
        self.got_message(cx, message, tag);
    }
    fn connection_lost(
        &mut self,
        cx: &mut ZmqCtx<'_, S, ZmqSubConnection<S>>,
        lost: &ConnectionLost,
    ) {
        SubProtocol::connection_lost(self, cx, lost);
    }
    crate::monitor::forward_monitor_hooks!(SubProtocol<S, Sub>, ZmqSubConnection<S>);
}

impl<S: 'static, P: SubProtocol<S, XSub>> Protocol<XSub, S> for P {
    fn connection_made(&mut self, cx: &mut ZmqCtx<'_, S, Connection<XSub, S>>) {
        SubProtocol::connection_made(self, cx);
    }
    fn received(
        &mut self,
        cx: &mut ZmqCtx<'_, S, Connection<XSub, S>>,
        (message, tag): (Frame, Frame),
    ) {
        self.got_message(cx, message, tag);
    }
    fn connection_lost(
        &mut self,
        cx: &mut ZmqCtx<'_, S, Connection<XSub, S>>,
        lost: &ConnectionLost,
    ) {
        SubProtocol::connection_lost(self, cx, lost);
    }
    crate::monitor::forward_monitor_hooks!(SubProtocol<S, XSub>, Connection<XSub, S>);
}

impl<S: 'static> Connection<Sub, S> {
    /// Subscribes to messages whose tag starts with `tag` (`b""`: everything).
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown.
    pub fn subscribe(&self, tag: impl AsRef<[u8]>) -> Result<()> {
        self.change(true, tag.as_ref())
    }

    /// Undoes one [`subscribe`](Self::subscribe) of `tag`.
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown.
    pub fn unsubscribe(&self, tag: impl AsRef<[u8]>) -> Result<()> {
        self.change(false, tag.as_ref())
    }

    fn change(&self, on: bool, tag: &[u8]) -> Result<()> {
        self.core.set_subscription(on, tag)
    }

    /// The separator between tag and message (txZMQ's `topicSep`).
    pub fn topic_sep(&self) -> Vec<u8> {
        self.pattern.sep.get()
    }

    /// Changes the separator; it must match the publisher's.
    pub fn set_topic_sep(&self, sep: impl AsRef<[u8]>) {
        self.pattern.sep.set(sep.as_ref());
    }

    /// Sets a closure that hears each message's frames as they came, with
    /// no txZMQ tag split: for publishers that are not txZMQ's (the zguide's
    /// and pyzmq's `"10001 temp humidity"`). It replaces `got_message`.
    pub fn message_received<F, R>(&self, f: F)
    where
        F: FnMut(&mut ZmqCtx<'_, S, ZmqSubConnection<S>>, Multipart) -> R + 'static,
        R: CallbackResult,
    {
        self.set_or_warn(RawFrames {
            name: "message_received",
            f,
        });
    }

    /// Sets a closure as `got_message(message, tag)` (txZMQ:
    /// `sub.gotMessage = f`). It may return `()` or a `Result`, whose error is
    /// logged.
    pub fn got_message<F, R>(&self, mut f: F)
    where
        F: FnMut(&mut ZmqCtx<'_, S, ZmqSubConnection<S>>, Frame, Frame) -> R + 'static,
        R: CallbackResult,
    {
        self.set_named(move |cx, (message, tag)| f(cx, message, tag), "got_message");
    }
}
