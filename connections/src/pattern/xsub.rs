//! XSUB: a subscriber whose subscriptions travel upstream as messages.

use tx0mq_reactor::CallbackResult;

use crate::connection::{Connection, ZmqCtx};
use crate::error::Result;
use crate::frames::{Frame, Multipart};
use crate::pattern::topic::TopicSep;
use crate::pattern::{Decoded, Pattern};

/// The XSUB pattern: SUB's framing, subscriptions sent as messages.
#[derive(Clone, Debug, Default)]
pub struct XSub {
    sep: TopicSep,
}

impl Pattern for XSub {
    type Event = (Frame, Frame);

    fn socket_type(&self) -> zmq::SocketType {
        zmq::XSUB
    }

    fn decode(&self, message: Multipart) -> Decoded<(Frame, Frame)> {
        match self.sep.untag(message) {
            Ok(split) => Decoded::Event(split),
            Err(why) => Decoded::Malformed(format!("a malformed message: {why}")),
        }
    }
}

/// An XSUB connection: [`ZmqSubConnection`](crate::ZmqSubConnection)'s
/// API and framing, but subscriptions travel upstream as messages (`\x01`
/// or `\x00`, then the topic), as proxies such as the zguide's `wuproxy`
/// need. Its protocol is a [`SubProtocol<S, XSub>`](crate::SubProtocol).
pub type ZmqXSubConnection<S = ()> = Connection<XSub, S>;

impl<S: 'static> Connection<XSub, S> {
    /// Subscribes to messages whose tag starts with `tag` (`b""`: everything),
    /// by sending the subscription upstream.
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown; `Error::OutboxFull` if the
    /// subscription cannot even be queued.
    pub fn subscribe(&self, tag: impl AsRef<[u8]>) -> Result<()> {
        self.change(true, tag.as_ref())
    }

    /// Undoes one [`subscribe`](Self::subscribe) of `tag`.
    ///
    /// # Errors
    ///
    /// As for [`subscribe`](Self::subscribe).
    pub fn unsubscribe(&self, tag: impl AsRef<[u8]>) -> Result<()> {
        self.change(false, tag.as_ref())
    }

    fn change(&self, on: bool, tag: &[u8]) -> Result<()> {
        let mut frame = Vec::with_capacity(tag.len() + 1);
        frame.push(u8::from(on));
        frame.extend_from_slice(tag);
        let operation = if on { "subscribe" } else { "unsubscribe" };
        self.core.send_message(frame, operation)
    }

    /// Changes the separator between tag and message; it must match the
    /// publisher's.
    pub fn set_topic_sep(&self, sep: impl AsRef<[u8]>) {
        self.pattern.sep.set(sep.as_ref());
    }

    /// Sets a closure as `got_message(message, tag)`. It may return `()` or a
    /// `Result`, whose error is logged.
    pub fn got_message<F, R>(&self, mut f: F)
    where
        F: FnMut(&mut ZmqCtx<'_, S, ZmqXSubConnection<S>>, Frame, Frame) -> R + 'static,
        R: CallbackResult,
    {
        self.set_named(move |cx, (message, tag)| f(cx, message, tag), "got_message");
    }
}
