//! PUSH: txZMQ's `ZmqPushConnection`.

use crate::connection::Connection;
use crate::error::Result;
use crate::frames::{IntoMultipart, Multipart};
use crate::pattern::{receives_nothing, Decoded, NoEvent, Pattern};

/// The PUSH pattern: messages go round-robin to PULL peers, raw multipart.
#[derive(Clone, Copy, Debug, Default)]
pub struct Push;

impl Pattern for Push {
    type Event = NoEvent;

    fn socket_type(&self) -> zmq::SocketType {
        zmq::PUSH
    }

    fn decode(&self, message: Multipart) -> Decoded<NoEvent> {
        receives_nothing("PUSH", &message)
    }
}

/// Pushes messages to PULL peers, round-robin (txZMQ's `ZmqPushConnection`).
///
/// Backpressure: a push that libzmq cannot take (no peer yet, or the peer's
/// high-water mark reached) waits in the outbox and is sent in order later;
/// when the outbox is full, `push` fails with `Error::OutboxFull`.
///
/// ```
/// use tx0mq_connections::{ZmqEndpoint, ZmqFactory, ZmqPullConnection, ZmqPushConnection};
/// use tx0mq_reactor::Reactor;
///
/// let reactor = Reactor::builder().state(Vec::new()).handle_signals(false).build()?;
/// let factory = ZmqFactory::new(&reactor)?;
/// let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind("inproc://doc-pushpull"))?;
/// let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect("inproc://doc-pushpull"))?;
/// pull.on_pull(|cx, message| {
///     cx.state.push(message[0].to_vec());
///     if cx.state.len() == 3 {
///         cx.reactor.stop()?;
///     }
///     Ok::<(), tx0mq_reactor::Error>(())
/// });
/// for word in ["a", "b", "c"] {
///     push.push(word)?;
/// }
/// reactor.run()?;
/// assert_eq!(reactor.access_state(|got| got.clone())?, [b"a", b"b", b"c"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type ZmqPushConnection<S = ()> = Connection<Push, S>;

impl<S: 'static> Connection<Push, S> {
    /// Pushes a message (one frame or a multipart), whole.
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown; `Error::OutboxFull` when the outbox is
    /// at its limit (the message was not sent).
    pub fn push(&self, message: impl IntoMultipart) -> Result<()> {
        self.core.send_message(message, "push")
    }
}
