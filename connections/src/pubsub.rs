//! PUB/SUB with txZMQ's framing, and XPUB/XSUB.
//!
//! On the wire, `publish(message, tag)` sends **one frame**: `tag`, then the
//! topic separator (`\0` by default, txZMQ's `topicSep`), then `message`.
//! SUB subscriptions are prefixes of that frame, so subscribing to `tag`
//! filters by tag. A subscriber also accepts the two-frame form
//! `[tag, message]` that other publishers send.
//!
//! ```
//! use tx0mq_connections::{ZmqEndpoint, ZmqFactory, ZmqPubConnection, ZmqSubConnection};
//! use tx0mq_reactor::Reactor;
//!
//! let reactor = Reactor::builder().state(Vec::new()).handle_signals(false).build()?;
//! let factory = ZmqFactory::new(&reactor)?;
//! let publisher = ZmqPubConnection::new(&factory, ZmqEndpoint::bind("inproc://doc-pubsub"))?;
//! let sub = ZmqSubConnection::new(&factory, ZmqEndpoint::connect("inproc://doc-pubsub"))?;
//! sub.subscribe(b"weather")?;
//! sub.got_message(|cx, message, tag| {
//!     cx.state.push((tag.to_vec(), message.to_vec()));
//!     cx.reactor.stop()
//! });
//! publisher.publish(b"ignored", b"sports")?;
//! publisher.publish(b"sunny", b"weather")?;
//! reactor.run()?;
//! assert_eq!(reactor.access_state(|got| got.clone())?, [(b"weather".to_vec(), b"sunny".to_vec())]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::cell::RefCell;
use std::rc::Rc;

use tx0mq_reactor::{CallbackResult, Ctx};

use crate::connection::{
    connection_common, constructors, made_and_lost, with_zcx, IntoEndpoints, ZmqConnection, ZmqCtx,
};
use crate::core::{ConnectionLost, Core, Handler};
use crate::error::Result;
use crate::factory::ZmqFactory;
use crate::frames::{escape, Frame, Multipart};
use crate::options::ZmqOptions;

/// txZMQ's default topic separator.
pub const DEFAULT_TOPIC_SEP: &[u8] = b"\0";

type TopicSep = Rc<RefCell<Vec<u8>>>;

fn default_sep() -> TopicSep {
    Rc::new(RefCell::new(DEFAULT_TOPIC_SEP.to_vec()))
}

fn tagged(tag: &[u8], sep: &[u8], message: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(tag.len() + sep.len() + message.len());
    frame.extend_from_slice(tag);
    frame.extend_from_slice(sep);
    frame.extend_from_slice(message);
    frame
}

/// Splits a received message into `(message, tag)` the way txZMQ does, or
/// says why it cannot.
fn untag(mut message: Multipart, sep: &[u8]) -> std::result::Result<(Frame, Frame), String> {
    match message.len() {
        2 => {
            let body = message.pop().unwrap_or_else(Frame::new);
            let tag = message.pop().unwrap_or_else(Frame::new);
            Ok((body, tag))
        }
        1 => {
            let frame = &message[0];
            match find(frame, sep) {
                Some(at) => Ok((
                    Frame::from(&frame[at + sep.len()..]),
                    Frame::from(&frame[..at]),
                )),
                None => Err(format!(
                    "no topic separator {} in {}",
                    escape(sep),
                    escape(frame)
                )),
            }
        }
        n => Err(format!(
            "{n} frames; expected 1 (tag + separator + message) or 2 (tag, message)"
        )),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Publishes tagged messages (txZMQ's `ZmqPubConnection`). PUB never queues:
/// a subscriber that cannot keep up loses messages at its high-water mark,
/// by libzmq's design.
pub struct ZmqPubConnection<S: 'static = ()> {
    base: ZmqConnection<S>,
    sep: TopicSep,
}

connection_common!(ZmqPubConnection { sep });

impl<S: 'static> ZmqPubConnection<S> {
    constructors!("A PUB", |factory, endpoints, options| {
        Ok(ZmqPubConnection {
            base: ZmqConnection::with_options(factory, zmq::PUB, endpoints, options)?,
            sep: default_sep(),
        })
    });

    /// Publishes `message` under `tag`: one frame, `tag + topic_sep + message`
    /// (txZMQ's `publish(message, tag)`).
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown.
    pub fn publish(&self, message: impl AsRef<[u8]>, tag: impl AsRef<[u8]>) -> Result<()> {
        let frame = tagged(tag.as_ref(), &self.sep.borrow(), message.as_ref());
        self.base.core.send_message(frame, "publish")
    }

    /// The separator between tag and message (txZMQ's `topicSep`).
    pub fn topic_sep(&self) -> Vec<u8> {
        self.sep.borrow().clone()
    }

    /// Changes the separator; subscribers must use the same one.
    pub fn set_topic_sep(&self, sep: impl AsRef<[u8]>) {
        *self.sep.borrow_mut() = sep.as_ref().to_vec();
    }
}

/// A protocol for a [`ZmqSubConnection`] (txZMQ:
/// override `gotMessage`).
pub trait SubProtocol<S: 'static = ()>: 'static {
    /// The connection is ready; called before any message.
    fn connection_made(&mut self, _cx: &mut ZmqCtx<'_, S, ZmqSubConnection<S>>) {}
    /// A published message arrived, with its tag.
    fn got_message(
        &mut self,
        cx: &mut ZmqCtx<'_, S, ZmqSubConnection<S>>,
        message: Frame,
        tag: Frame,
    );
    /// The connection was shut down.
    fn connection_lost(
        &mut self,
        _cx: &mut ZmqCtx<'_, S, ZmqSubConnection<S>>,
        _lost: &ConnectionLost,
    ) {
    }
}

/// Subscribes to tagged messages (txZMQ's `ZmqSubConnection`). Subscribe
/// before messages can arrive; with no subscription nothing does.
///
/// A message that is neither one frame containing the separator nor two
/// frames is logged and dropped. To receive plain frames from publishers that
/// do not use txZMQ's framing (zguide-style `"10001 temp humidity"`), set a
/// raw protocol instead: `sub.message_received(|cx, frames| ...)` (from
/// [`ZmqConnection`], to which this derefs).
pub struct ZmqSubConnection<S: 'static = ()> {
    base: ZmqConnection<S>,
    sep: TopicSep,
    /// XSUB sends subscriptions as messages instead of socket options.
    xsub: bool,
}

connection_common!(ZmqSubConnection { sep, xsub });

struct SubHandler<P>(P, TopicSep);

impl<S: 'static, P: SubProtocol<S>> Handler<S> for SubHandler<P> {
    made_and_lost!(|core, this| ZmqSubConnection::from_core(core, &this.1));
    fn message(&mut self, cx: &mut Ctx<'_, S>, core: &Rc<Core<S>>, message: Multipart) {
        let conn = ZmqSubConnection::from_core(core, &self.1);
        let split = untag(message, &self.1.borrow());
        match split {
            Ok((message, tag)) => with_zcx(cx, &conn, |zcx| self.0.got_message(zcx, message, tag)),
            Err(why) => log::warn!("{}: dropped a malformed message: {why}", core.describe()),
        }
    }
}

struct SubFn<F>(F);

impl<S: 'static, F, R> SubProtocol<S> for SubFn<F>
where
    F: FnMut(&mut ZmqCtx<'_, S, ZmqSubConnection<S>>, Frame, Frame) -> R + 'static,
    R: CallbackResult,
{
    fn got_message(
        &mut self,
        cx: &mut ZmqCtx<'_, S, ZmqSubConnection<S>>,
        message: Frame,
        tag: Frame,
    ) {
        (self.0)(cx, message, tag).report("got_message");
    }
}

impl<S: 'static> ZmqSubConnection<S> {
    fn from_core(core: &Rc<Core<S>>, sep: &TopicSep) -> Self {
        ZmqSubConnection {
            base: ZmqConnection { core: core.clone() },
            sep: sep.clone(),
            xsub: core.kind == zmq::XSUB,
        }
    }

    constructors!("A SUB", |factory, endpoints, options| {
        Self::open(factory, zmq::SUB, endpoints, options)
    });

    /// An XSUB connection: the same API, but subscriptions travel upstream as
    /// messages (for proxies such as the zguide's `wuproxy`).
    ///
    /// # Errors
    ///
    /// As for [`ZmqConnection::with_options`].
    pub fn xsub(
        factory: &ZmqFactory<S>,
        endpoints: impl IntoEndpoints,
        options: &ZmqOptions,
    ) -> Result<Self> {
        Self::open(factory, zmq::XSUB, endpoints, options)
    }

    fn open(
        factory: &ZmqFactory<S>,
        kind: zmq::SocketType,
        endpoints: impl IntoEndpoints,
        options: &ZmqOptions,
    ) -> Result<Self> {
        Ok(ZmqSubConnection {
            base: ZmqConnection::with_options(factory, kind, endpoints, options)?,
            sep: default_sep(),
            xsub: kind == zmq::XSUB,
        })
    }

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
        let operation = if on { "subscribe" } else { "unsubscribe" };
        if self.xsub {
            let mut frame = Vec::with_capacity(tag.len() + 1);
            frame.push(u8::from(on));
            frame.extend_from_slice(tag);
            return self.base.core.send_message(frame, operation);
        }
        let outcome = self.base.core.with_socket(operation, |socket| {
            if on {
                socket.set_subscribe(tag)
            } else {
                socket.set_unsubscribe(tag)
            }
        })?;
        self.base.core.touched();
        outcome.map_err(|source| crate::Error::Option {
            option: operation,
            connection: self.base.core.describe(),
            source,
        })
    }

    /// The separator between tag and message (txZMQ's `topicSep`).
    pub fn topic_sep(&self) -> Vec<u8> {
        self.sep.borrow().clone()
    }

    /// Changes the separator; it must match the publisher's.
    pub fn set_topic_sep(&self, sep: impl AsRef<[u8]>) {
        *self.sep.borrow_mut() = sep.as_ref().to_vec();
    }

    /// Sets the protocol.
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown.
    pub fn set_protocol(&self, protocol: impl SubProtocol<S>) -> Result<()> {
        self.base
            .core
            .set_handler(Box::new(SubHandler(protocol, self.sep.clone())))
    }

    /// Sets a closure as `got_message(message, tag)` (txZMQ:
    /// `sub.gotMessage = f`). It may return `()` or a `Result`, whose error is
    /// logged.
    pub fn got_message<F, R>(&self, f: F)
    where
        F: FnMut(&mut ZmqCtx<'_, S, ZmqSubConnection<S>>, Frame, Frame) -> R + 'static,
        R: CallbackResult,
    {
        crate::warn_closed(self.set_protocol(SubFn(f)));
    }
}

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
}

/// A publisher that hears its subscribers' subscriptions (XPUB). Publishes
/// with txZMQ's framing, like [`ZmqPubConnection`].
pub struct ZmqXPubConnection<S: 'static = ()> {
    base: ZmqConnection<S>,
    sep: TopicSep,
}

connection_common!(ZmqXPubConnection { sep });

struct XPubHandler<P>(P, TopicSep);

impl<S: 'static, P: XPubProtocol<S>> Handler<S> for XPubHandler<P> {
    made_and_lost!(|core, this| ZmqXPubConnection::from_core(core, &this.1));
    fn message(&mut self, cx: &mut Ctx<'_, S>, core: &Rc<Core<S>>, message: Multipart) {
        let conn = ZmqXPubConnection::from_core(core, &self.1);
        let Some(first) = message.first().filter(|f| !f.is_empty() && f[0] <= 1) else {
            log::warn!(
                "{}: dropped a message that is not a subscription",
                core.describe()
            );
            return;
        };
        let subscribe = first[0] == 1;
        let topic = Frame::from(&first[1..]);
        with_zcx(cx, &conn, |zcx| self.0.subscription(zcx, subscribe, topic));
    }
}

struct XPubFn<F>(F);

impl<S: 'static, F, R> XPubProtocol<S> for XPubFn<F>
where
    F: FnMut(&mut ZmqCtx<'_, S, ZmqXPubConnection<S>>, bool, Frame) -> R + 'static,
    R: CallbackResult,
{
    fn subscription(
        &mut self,
        cx: &mut ZmqCtx<'_, S, ZmqXPubConnection<S>>,
        subscribe: bool,
        topic: Frame,
    ) {
        (self.0)(cx, subscribe, topic).report("subscription");
    }
}

impl<S: 'static> ZmqXPubConnection<S> {
    fn from_core(core: &Rc<Core<S>>, sep: &TopicSep) -> Self {
        ZmqXPubConnection {
            base: ZmqConnection { core: core.clone() },
            sep: sep.clone(),
        }
    }

    constructors!("An XPUB", |factory, endpoints, options| {
        Ok(ZmqXPubConnection {
            base: ZmqConnection::with_options(factory, zmq::XPUB, endpoints, options)?,
            sep: default_sep(),
        })
    });

    /// Publishes like [`ZmqPubConnection::publish`].
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown.
    pub fn publish(&self, message: impl AsRef<[u8]>, tag: impl AsRef<[u8]>) -> Result<()> {
        let frame = tagged(tag.as_ref(), &self.sep.borrow(), message.as_ref());
        self.base.core.send_message(frame, "publish")
    }

    /// Changes the separator between tag and message.
    pub fn set_topic_sep(&self, sep: impl AsRef<[u8]>) {
        *self.sep.borrow_mut() = sep.as_ref().to_vec();
    }

    /// Sets the protocol.
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown.
    pub fn set_protocol(&self, protocol: impl XPubProtocol<S>) -> Result<()> {
        self.base
            .core
            .set_handler(Box::new(XPubHandler(protocol, self.sep.clone())))
    }

    /// Sets a closure as `subscription(subscribe, topic)`.
    pub fn on_subscription<F, R>(&self, f: F)
    where
        F: FnMut(&mut ZmqCtx<'_, S, ZmqXPubConnection<S>>, bool, Frame) -> R + 'static,
        R: CallbackResult,
    {
        crate::warn_closed(self.set_protocol(XPubFn(f)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(parts: &[&[u8]]) -> Multipart {
        parts.iter().map(|p| Frame::from(*p)).collect()
    }

    #[test]
    fn one_frame_splits_at_the_first_separator() {
        let (message, tag) = untag(frames(&[b"tag\0body\0more"]), b"\0").unwrap();
        assert_eq!(&tag[..], b"tag");
        assert_eq!(&message[..], b"body\0more");
    }

    #[test]
    fn two_frames_are_tag_then_message() {
        let (message, tag) = untag(frames(&[b"tag", b"body"]), b"\0").unwrap();
        assert_eq!((&tag[..], &message[..]), (&b"tag"[..], &b"body"[..]));
    }

    #[test]
    fn no_separator_and_three_frames_are_refused_with_a_reason() {
        assert!(untag(frames(&[b"plain"]), b"\0")
            .unwrap_err()
            .contains("no topic separator"));
        assert!(untag(frames(&[b"a", b"b", b"c"]), b"\0")
            .unwrap_err()
            .contains("3 frames"));
    }

    #[test]
    fn multi_byte_separators_work() {
        let (message, tag) = untag(frames(&[b"t::m"]), b"::").unwrap();
        assert_eq!((&tag[..], &message[..]), (&b"t"[..], &b"m"[..]));
    }
}
