//! Unit-testing a protocol without sockets or threads: Twisted's
//! `proto_helpers.StringTransport` and `task.Clock`, for connections.
//!
//! [`Connection::fake`] makes a connection of any pattern whose far end is
//! a [`FakePeer`] instead of a libzmq socket. The protocol is the real one,
//! set the usual way (`got_message`, `on_pull`, `set_protocol`); the test
//! [`deliver`](FakePeer::deliver)s messages as a peer would send them and
//! reads what the protocol [`sent`](FakePeer::sent). The pattern's framing
//! runs as on a real socket (a REP connection records the route of each
//! request; a REQ connection matches replies to Deferreds), and with a
//! reactor on a fake clock (`Reactor::builder().fake_clock()`), timeouts
//! fire when the test calls `reactor.advance(..)`. Nothing waits and nothing
//! runs on another thread, so such tests are exact and fast.
//!
//! ```
//! use std::time::Duration;
//! use tx0mq_connections::{multipart, ZmqRepConnection, ZmqReqConnection};
//! use tx0mq_reactor::Reactor;
//!
//! let reactor = Reactor::builder().fake_clock().handle_signals(false).build()?;
//!
//! // A REP protocol under test: it upper-cases each request.
//! let (rep, peer) = ZmqRepConnection::fake(&reactor)?;
//! rep.got_message(|cx, id, parts| cx.conn.reply(&id, parts[0].to_ascii_uppercase()));
//! peer.deliver(multipart![b"route", b"id-1", b"", b"hello"])?;
//! assert_eq!(peer.take_sent(), [multipart![b"route", b"id-1", b"", b"HELLO"]]);
//!
//! // A REQ client's timeout, on the fake clock.
//! let (req, server) = ZmqReqConnection::fake(&reactor)?;
//! let reply = req.send_msg_with_timeout(b"ping", Duration::from_secs(2));
//! assert_eq!(server.sent().len(), 1);
//! reactor.advance(Duration::from_secs(1))?;
//! assert!(!reply.called());
//! reactor.advance(Duration::from_secs(2))?;
//! assert!(reply.called()); // failed with ZmqRequestTimeoutError
//! # reply.add_errback(|_| Ok(tx0mq_connections::Multipart::new()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::rc::Rc;

use crate::connection::Connection;
use crate::core::Core;
use crate::error::{Error, Result};
use crate::frames::{Frame, IntoMultipart, Multipart};
use crate::options::ZmqOptions;
use crate::pattern::Pattern;
use crate::socket::FakeWire;
use tx0mq_reactor::Reactor;

/// How many rounds of delivery [`FakePeer::pump`] runs at most before it
/// gives up on a connection that never settles (a pull producer that always
/// has more, say).
pub const PUMP_ROUNDS: usize = 1000;

/// The far end of a fake connection (see the [module docs](self)).
pub struct FakePeer<S: 'static = ()> {
    core: Rc<Core<S>>,
    wire: Rc<FakeWire>,
}

impl<S: 'static> fmt::Debug for FakePeer<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakePeer")
            .field("connection", &self.core.describe())
            .field("sent", &self.wire.sent.borrow().len())
            .field("undelivered", &self.wire.inbox.borrow().len())
            .finish()
    }
}

impl<K: Pattern + Default, S: 'static> Connection<K, S> {
    /// A connection of this pattern on `reactor` with no socket: its far end
    /// is the returned [`FakePeer`]. For unit tests of protocols (see
    /// [`testing`](crate::testing)).
    ///
    /// # Errors
    ///
    /// As for [`fake_with`](Self::fake_with).
    pub fn fake(reactor: &Reactor<S>) -> Result<(Self, FakePeer<S>)> {
        Self::fake_with(reactor, K::default(), &ZmqOptions::default())
    }
}

impl<K: Pattern, S: 'static> Connection<K, S> {
    /// [`fake`](Self::fake) for a pattern value (a raw connection:
    /// `Raw::new(zmq::PAIR)`) and options (the outbox limits apply; socket
    /// options are not applied, as there is no socket).
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for patterns that set
    /// themselves up when opened.
    pub fn fake_with(
        reactor: &Reactor<S>,
        pattern: K,
        options: &ZmqOptions,
    ) -> Result<(Self, FakePeer<S>)> {
        let (core, wire) = Core::open_fake(
            reactor,
            pattern.socket_type(),
            pattern.when_refused(),
            options,
        );
        let conn = Connection::around(core.clone(), pattern)?;
        Ok((conn, FakePeer { core, wire }))
    }
}

impl<S: 'static> FakePeer<S> {
    /// Delivers `message` as if the peer sent it, and [`pump`](Self::pump)s:
    /// the protocol has heard it (and `connection_made` first, if pending)
    /// when this returns. For a ROUTER-based pattern (ROUTER, REP) the first
    /// frames are the routing envelope, as libzmq would deliver them.
    ///
    /// # Errors
    ///
    /// As for [`pump`](Self::pump).
    pub fn deliver(&self, message: impl IntoMultipart) -> Result<()> {
        self.wire
            .inbox
            .borrow_mut()
            .push_back(message.into_multipart());
        self.pump()
    }

    /// Lets the connection do what a reactor pass would: `connection_made`
    /// for a new protocol, the delivered messages, queued sends when the
    /// peer takes messages again, a pull producer's next chunk. Repeats
    /// until nothing is left, at most [`PUMP_ROUNDS`] times.
    ///
    /// # Errors
    ///
    /// `Error::Reactor` if the reactor is gone or its state is lent (called
    /// from inside a reactor callback: drive the kit from the test's own
    /// code, between reactor calls).
    pub fn pump(&self) -> Result<()> {
        let reactor = self
            .core
            .reactor()
            .ok_or(Error::Reactor(tx0mq_reactor::Error::ReactorGone))?;
        for _ in 0..PUMP_ROUNDS {
            if self.core.is_closed() {
                return Ok(());
            }
            let again = reactor
                .with_ctx(|cx| self.core.on_ready(cx))
                .map_err(Error::Reactor)?;
            if !again {
                return Ok(());
            }
        }
        log::warn!(
            "{}: still busy after {PUMP_ROUNDS} rounds; pump again to go on",
            self.core.describe()
        );
        Ok(())
    }

    /// Copies of the messages the connection sent, in order (they stay
    /// recorded).
    pub fn sent(&self) -> Vec<Multipart> {
        let sent = self.wire.sent.borrow();
        sent.iter()
            .map(|message| {
                message
                    .iter()
                    .map(|frame| Frame::from(&frame[..]))
                    .collect()
            })
            .collect()
    }

    /// The messages the connection sent, in order, clearing the record.
    pub fn take_sent(&self) -> Vec<Multipart> {
        std::mem::take(&mut *self.wire.sent.borrow_mut())
    }

    /// Subscriptions a SUB connection made, in order: `(true, topic)` for
    /// `subscribe`, `(false, topic)` for `unsubscribe`.
    pub fn subscriptions(&self) -> Vec<(bool, Vec<u8>)> {
        self.wire.subscriptions.borrow().clone()
    }

    /// While `refusing`, the peer takes no message: sends wait in the
    /// connection's outbox (libzmq's high-water mark, or no peer yet), and
    /// producers are paused. Set it back to `false` and [`pump`](Self::pump)
    /// to let them go.
    pub fn refuse(&self, refusing: bool) {
        self.wire.refusing.set(refusing);
    }

    /// Messages delivered and not read by the connection yet (it reads
    /// nothing while it has no protocol, or is paused).
    pub fn undelivered(&self) -> usize {
        self.wire.inbox.borrow().len()
    }
}
