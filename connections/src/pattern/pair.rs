//! PAIR: one exclusive peer, raw multipart messages.

use tx0mq_reactor::CallbackResult;

use crate::connection::{Connection, ZmqCtx};
use crate::error::Result;
use crate::frames::{IntoMultipart, Multipart};
use crate::pattern::{Decoded, Pattern};

/// The PAIR pattern: one exclusive peer, raw multipart messages.
#[derive(Clone, Copy, Debug, Default)]
pub struct Pair;

impl Pattern for Pair {
    type Event = Multipart;

    fn socket_type(&self) -> zmq::SocketType {
        zmq::PAIR
    }

    fn decode(&self, message: Multipart) -> Decoded<Multipart> {
        Decoded::Event(message)
    }
}

/// A PAIR connection: exclusive to one peer, with the DEALER connection's
/// operations (`send_msg`, `got_message`). Its protocol is a
/// [`DealerProtocol<S, Pair>`](crate::DealerProtocol).
///
/// ```
/// use tx0mq_connections::{ZmqEndpoint, ZmqFactory, ZmqPairConnection};
/// use tx0mq_reactor::Reactor;
///
/// let reactor = Reactor::builder().handle_signals(false).build()?;
/// let factory = ZmqFactory::new(&reactor)?;
/// let a = ZmqPairConnection::new(&factory, ZmqEndpoint::bind("inproc://doc-pair-type"))?;
/// let b = ZmqPairConnection::new(&factory, ZmqEndpoint::connect("inproc://doc-pair-type"))?;
/// b.got_message(|cx, parts| {
///     assert_eq!(&parts[0][..], b"ping");
///     cx.reactor.stop()
/// });
/// a.send_msg(b"ping")?;
/// reactor.run()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type ZmqPairConnection<S = ()> = Connection<Pair, S>;

impl<S: 'static> Connection<Pair, S> {
    /// Sends a message to the peer. If libzmq cannot take it now (no peer
    /// yet, or the high-water mark), it waits in the outbox and goes out in
    /// order.
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown; `Error::OutboxFull` when the outbox is
    /// at its limit (the message was not sent).
    pub fn send_msg(&self, parts: impl IntoMultipart) -> Result<()> {
        self.core.send_message(parts, "send")
    }

    /// Sets a closure as `got_message(parts)`.
    pub fn got_message<F, R>(&self, f: F)
    where
        F: FnMut(&mut ZmqCtx<'_, S, ZmqPairConnection<S>>, Multipart) -> R + 'static,
        R: CallbackResult,
    {
        self.set_named(f, "got_message");
    }
}
