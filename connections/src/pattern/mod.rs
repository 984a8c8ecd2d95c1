//! Socket patterns: what makes a PUSH connection a PUSH connection.
//!
//! Every connection is a [`Connection<K, S>`](crate::Connection): the socket
//! in the reactor, and a *pattern* `K` that says which libzmq socket type it
//! is, how a received message becomes the event its protocol hears, and
//! which operations it offers on top of the methods every connection has
//! (`shutdown`, `add_endpoints`, `last_endpoint`, ...). txZMQ's names are
//! aliases: `ZmqPushConnection<S>` is `Connection<Push, S>`.
//!
//! Each pattern lives in one file of this module: a marker type that
//! implements [`Pattern`], the pattern's own operations as an
//! `impl Connection<ThePattern, S>` block, and its protocol trait with the
//! txZMQ method name (`on_pull`, `got_message`, ...). A pattern offers only
//! the operations that keep its wire protocol whole: a REQ connection has
//! `send_msg`, which frames the request id, but no raw `send`. What a user
//! needs from the raw socket stays reachable through the documented escape
//! hatch [`Connection::raw`](crate::Connection::raw).
//!
//! # Adding a pattern
//!
//! ```
//! use tx0mq_connections::pattern::{Decoded, Pattern};
//! use tx0mq_connections::{Connection, Multipart, Result};
//!
//! /// A PULL socket that hears only the first frame of each message.
//! #[derive(Clone, Debug, Default)]
//! struct FirstFrame;
//!
//! impl Pattern for FirstFrame {
//!     type Event = tx0mq_connections::Frame;
//!     fn socket_type(&self) -> zmq::SocketType {
//!         zmq::PULL
//!     }
//!     fn decode(&self, mut message: Multipart) -> Decoded<Self::Event> {
//!         match message.len() {
//!             0 => Decoded::Malformed("an empty message".into()),
//!             _ => Decoded::Event(message.remove(0)),
//!         }
//!     }
//! }
//!
//! // Its own operations go in an inherent impl; the constructors, the
//! // protocol setter and everything common come with `Connection`.
//! type FirstFrameConnection<S = ()> = Connection<FirstFrame, S>;
//!
//! let reactor = tx0mq_reactor::Reactor::builder().handle_signals(false).build()?;
//! let factory = tx0mq_connections::ZmqFactory::new(&reactor)?;
//! let conn = FirstFrameConnection::new(&factory, tx0mq_connections::ZmqEndpoint::bind("inproc://first"))?;
//! conn.on_event(|_, frame| println!("{frame:?}"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::convert::Infallible;

use crate::core::ConnectionLost;
use crate::frames::Multipart;

mod dealer;
mod pair;
mod publish;
mod pull;
mod push;
mod raw;
mod rep;
mod req;
mod router;
mod stream_socket;
mod subscribe;
mod topic;
mod xpub;
mod xsub;

pub use dealer::{Dealer, DealerProtocol, ZmqDealerConnection};
pub use pair::{Pair, ZmqPairConnection};
pub use publish::{Pub, ZmqPubConnection};
pub use pull::{Pull, PullProtocol, ZmqPullConnection};
pub use push::{Push, ZmqPushConnection};
pub use raw::{proxy, Raw, ZmqConnection, ZmqProtocol};
#[allow(deprecated)]
pub use rep::{Rep, RepProtocol, ZmqRepConnection, ZmqXRepConnection};
#[allow(deprecated)]
pub use req::{Req, ZmqReqConnection, ZmqXReqConnection};
pub use router::{Router, RouterProtocol, ZmqRouterConnection};
pub use stream_socket::{StreamSocket, ZmqStreamConnection};
pub use subscribe::{Sub, SubProtocol, ZmqSubConnection};
pub use topic::DEFAULT_TOPIC_SEP;
pub use xpub::{XPub, XPubProtocol, ZmqXPubConnection};
pub use xsub::{XSub, ZmqXSubConnection};

/// What a received message became.
#[derive(Debug)]
pub enum Decoded<E> {
    /// An event for the protocol.
    Event(E),
    /// The pattern handled the message itself (a REQ reply fires its
    /// Deferred); the protocol hears nothing.
    Consumed,
    /// The message breaks the pattern's framing; it is dropped and logged
    /// as "dropped ", then this text: what it was and why it does not fit
    /// (`a request with no empty delimiter (1 frame(s))`). The connection
    /// carries on.
    Malformed(String),
}

/// A socket pattern: the libzmq socket type, and how a received message
/// becomes the event the protocol hears. See the [module docs](self) for
/// how to add one.
///
/// A pattern value lives as long as its connection and is cloned into every
/// handle of it; state it keeps per connection (REQ's table of pending
/// requests, SUB's topic separator) goes behind an `Rc`.
pub trait Pattern: Clone + 'static {
    /// What the protocol receives for one message: a `Multipart` for raw
    /// patterns, `(message, tag)` for SUB, ...
    type Event: 'static;

    /// The libzmq socket type this pattern opens.
    fn socket_type(&self) -> zmq::SocketType;

    /// Turns a received message into the protocol's event. Called on the
    /// reactor thread, before the protocol, for every message.
    fn decode(&self, message: Multipart) -> Decoded<Self::Event>;

    /// What a send becomes when libzmq refuses it for now (EAGAIN: the
    /// high-water mark, or no peer yet). [`Refused::Queue`] (the default):
    /// it waits whole in the outbox. PUB says [`Refused::Drop`] (a PUB
    /// with [`xpub_nodrop`](crate::ZmqOptions::xpub_nodrop) queues); ROUTER,
    /// REP and STREAM say [`Refused::Fail`], because their EAGAIN concerns
    /// one peer and a queue would hold every other peer's messages behind it.
    fn when_refused(&self) -> Refused {
        Refused::Queue
    }

    /// Whether the connection reads before a protocol is set. `false` (the
    /// default): messages wait in libzmq until there is someone to hear
    /// them. REQ says `true`: its replies fire Deferreds.
    fn reads_without_protocol(&self) -> bool {
        false
    }

    /// The connection was lost (before its protocol hears of it): release
    /// what the pattern holds. `connection` names it for messages.
    fn lost(&self, _connection: &str, _lost: &ConnectionLost) {}

    /// Whether [`protocol_panicked`](Self::protocol_panicked) must be
    /// called: `false` (the default) spares each event the check for a
    /// panic. A pattern that implements `protocol_panicked` says `true`.
    const NOTIFY_PANIC: bool = false;

    /// The protocol panicked while it handled the last event
    /// [`decode`](Self::decode) returned: release what `decode` set aside
    /// for it (a REP connection drops the route of a request nobody will
    /// answer). The connection itself carries on. Called only if
    /// [`NOTIFY_PANIC`](Self::NOTIFY_PANIC) is `true`.
    fn protocol_panicked(&self) {}
}

/// What a connection does with a send libzmq refuses for now
/// ([`Pattern::when_refused`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Wait whole in the outbox, to go out in order on POLLOUT; past the
    /// outbox limits the send fails with `Error::OutboxFull`.
    Queue,
    /// Drop it, as libzmq's PUB does at the high-water mark.
    Drop,
    /// Fail the send with `Error::Socket` (EAGAIN): the caller decides.
    Fail,
}

impl Refused {
    /// The policy of a socket type used raw: PUB drops, ROUTER and STREAM
    /// fail, everything else queues.
    pub fn for_socket(kind: zmq::SocketType) -> Self {
        match kind {
            zmq::SocketType::PUB => Refused::Drop,
            zmq::SocketType::ROUTER | zmq::SocketType::STREAM => Refused::Fail,
            _ => Refused::Queue,
        }
    }
}

/// A pattern whose messages may be read as the frames that came, borrowed
/// ([`Connection::on_frames`](crate::Connection::on_frames)): raw
/// connections, PULL, SUB, XSUB, DEALER, PAIR, ROUTER and STREAM. Not REQ
/// and REP, whose own framing must see every message (the request table,
/// the routes back), nor the patterns that receive nothing.
pub trait BorrowedFrames: Pattern {}

impl BorrowedFrames for Raw {}
impl BorrowedFrames for Pull {}
impl BorrowedFrames for Sub {}
impl BorrowedFrames for XSub {}
impl BorrowedFrames for Dealer {}
impl BorrowedFrames for Pair {}
impl BorrowedFrames for Router {}
impl BorrowedFrames for StreamSocket {}

/// A pattern whose connections receive nothing (PUB, PUSH): its
/// [`Pattern::Event`].
pub type NoEvent = Infallible;

/// The [`Pattern::decode`] of a pattern that receives nothing.
pub(crate) fn receives_nothing<E>(kind: &str, message: &Multipart) -> Decoded<E> {
    Decoded::Malformed(format!(
        "a {}-frame message: a {kind} socket receives nothing",
        message.len()
    ))
}
