//! PUB with txZMQ's framing: txZMQ's `ZmqPubConnection`.

use crate::connection::Connection;
use crate::error::Result;
use crate::frames::{IntoMultipart, Multipart};
use crate::pattern::topic::TopicSep;
use crate::pattern::{receives_nothing, Decoded, NoEvent, Pattern, Refused};

/// The PUB pattern, with its topic separator.
#[derive(Clone, Debug, Default)]
pub struct Pub {
    sep: TopicSep,
}

impl Pattern for Pub {
    type Event = NoEvent;

    fn socket_type(&self) -> zmq::SocketType {
        zmq::PUB
    }

    fn when_refused(&self) -> Refused {
        Refused::Drop
    }

    fn decode(&self, message: Multipart) -> Decoded<NoEvent> {
        receives_nothing("PUB", &message)
    }
}

/// Publishes tagged messages (txZMQ's `ZmqPubConnection`).
///
/// On the wire, `publish(message, tag)` sends **one frame**: `tag`, then the
/// topic separator (`\0` by default, txZMQ's `topicSep`), then `message`.
/// SUB subscriptions are prefixes of that frame, so subscribing to `tag`
/// filters by tag.
///
/// PUB never queues: a subscriber that cannot keep up loses messages at its
/// high-water mark, by libzmq's design.
///
/// ```
/// use tx0mq_connections::{ZmqEndpoint, ZmqFactory, ZmqPubConnection, ZmqSubConnection};
/// use tx0mq_reactor::Reactor;
///
/// let reactor = Reactor::builder().state(Vec::new()).handle_signals(false).build()?;
/// let factory = ZmqFactory::new(&reactor)?;
/// let publisher = ZmqPubConnection::new(&factory, ZmqEndpoint::bind("inproc://doc-pubsub"))?;
/// let sub = ZmqSubConnection::new(&factory, ZmqEndpoint::connect("inproc://doc-pubsub"))?;
/// sub.subscribe(b"weather")?;
/// sub.got_message(|cx, message, tag| {
///     cx.state.push((tag.to_vec(), message.to_vec()));
///     cx.reactor.stop()
/// });
/// publisher.publish(b"ignored", b"sports")?;
/// publisher.publish(b"sunny", b"weather")?;
/// reactor.run()?;
/// assert_eq!(reactor.access_state(|got| got.clone())?, [(b"weather".to_vec(), b"sunny".to_vec())]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type ZmqPubConnection<S = ()> = Connection<Pub, S>;

impl<S: 'static> Connection<Pub, S> {
    /// Publishes `message` under `tag`: one frame, `tag + topic_sep + message`
    /// (txZMQ's `publish(message, tag)`).
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown.
    pub fn publish(&self, message: impl AsRef<[u8]>, tag: impl AsRef<[u8]>) -> Result<()> {
        let frame = self.pattern.sep.tagged(tag.as_ref(), message.as_ref());
        self.core.send_message(frame, "publish")
    }

    /// Sends a message as it is, with no tag framing: for subscribers that
    /// are not txZMQ's (the zguide's and pyzmq's plain SUB sockets, which
    /// filter on the first frame's prefix). Like `publish`, it never queues.
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown.
    pub fn send(&self, message: impl IntoMultipart) -> Result<()> {
        self.core.send_message(message, "send")
    }

    /// The separator between tag and message (txZMQ's `topicSep`).
    pub fn topic_sep(&self) -> Vec<u8> {
        self.pattern.sep.get()
    }

    /// Changes the separator; subscribers must use the same one.
    pub fn set_topic_sep(&self, sep: impl AsRef<[u8]>) {
        self.pattern.sep.set(sep.as_ref());
    }
}
