//! Testing protocols with no network: [`StringTransport`] (Twisted's
//! `twisted.internet.testing.StringTransport`, formerly `proto_helpers`).
//!
//! The protocol under test is the real one, run by a real [`Transport`]
//! whose byte stream is a buffer: what it writes is in
//! [`value`](StringTransport::value), and the test hands it data with
//! [`data_received`](StringTransport::data_received). Pair it with a
//! reactor on a fake clock (`Reactor::builder().fake_clock()`), and
//! `reactor.advance(..)` runs what the transport does on the next pass
//! (completing a `lose_connection`, resuming a paused reader). Drive it
//! from the test body, not from inside a reactor callback.
//!
//! ```
//! use std::time::Duration;
//! use tx0mq_net::testing::StringTransport;
//! use tx0mq_net::{NetCtx, Protocol, Reason};
//! use tx0mq_reactor::Reactor;
//!
//! #[derive(Default)]
//! struct Seen { lost: Option<String> }
//!
//! struct QuitOnQ;
//! impl Protocol<Seen> for QuitOnQ {
//!     fn data_received(&mut self, cx: &mut NetCtx<'_, Seen>, data: &[u8]) {
//!         if data.contains(&b'q') {
//!             let _ = cx.transport.write(b"bye\n");
//!             cx.transport.lose_connection();
//!         }
//!     }
//!     fn connection_lost(&mut self, cx: &mut NetCtx<'_, Seen>, reason: &Reason) {
//!         cx.state.lost = Some(format!("{reason:?}"));
//!     }
//! }
//!
//! let reactor = Reactor::builder().state(Seen::default()).fake_clock().build()?;
//! let tr = StringTransport::connect(&reactor, QuitOnQ)?;
//! tr.data_received(b"q")?;
//! assert_eq!(tr.value(), b"bye\n");
//! assert!(tr.disconnecting());
//! reactor.advance(Duration::ZERO)?;
//! assert_eq!(reactor.access_state(|s| s.lost.clone())?.as_deref(), Some("Closed"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::rc::Rc;

use tx0mq_reactor::Reactor;

use crate::address::Address;
use crate::error::{Error, Reason, Result};
use crate::protocol::Protocol;
use crate::transport::{Channel, Core, Parts, ReadSide, Transport, WriteSide};

/// The host address a string transport reports unless told otherwise.
pub const DEFAULT_HOST: &str = "10.0.0.1:12345";
/// The peer address a string transport reports unless told otherwise.
pub const DEFAULT_PEER: &str = "192.168.1.1:54321";

#[derive(Default)]
struct Wire {
    written: RefCell<Vec<u8>>,
    refusing: Cell<bool>,
    write_shut: Cell<bool>,
}

struct StringChannel(Rc<Wire>);

impl Channel for StringChannel {
    fn read(&mut self, _buf: &mut [u8]) -> io::Result<usize> {
        Err(io::ErrorKind::WouldBlock.into())
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        if self.0.refusing.get() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut written = self.0.written.borrow_mut();
        let mut n = 0;
        for buf in bufs {
            written.extend_from_slice(buf);
            n += buf.len();
        }
        Ok(n)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.0.write_shut.set(true);
        Ok(())
    }

    fn writable_now(&self) -> bool {
        !self.0.refusing.get()
    }
}

/// A transport whose byte stream is a buffer, for protocol tests (Twisted's
/// `StringTransport`, with `StringTransportWithDisconnection`'s closing).
/// See the [module docs](self).
pub struct StringTransport<S: 'static = ()> {
    transport: Transport<S>,
    wire: Rc<Wire>,
    reactor: Reactor<S>,
}

impl<S: 'static> fmt::Debug for StringTransport<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StringTransport")
            .field("written", &self.wire.written.borrow().len())
            .field("disconnecting", &self.disconnecting())
            .finish()
    }
}

impl<S: 'static> StringTransport<S> {
    /// Runs `protocol` on a string transport (Twisted's
    /// `proto.makeConnection(StringTransport())`): `connection_made` is
    /// called now.
    ///
    /// # Errors
    ///
    /// [`Error::Reactor`] from inside a reactor callback (the state is
    /// lent out there, so `connection_made` could not run now).
    pub fn connect<P: Protocol<S>>(reactor: &Reactor<S>, protocol: P) -> Result<Self> {
        let host = DEFAULT_HOST.parse().unwrap_or_else(|_| unspecified());
        let peer = DEFAULT_PEER.parse().unwrap_or_else(|_| unspecified());
        Self::with_addresses(reactor, protocol, host, peer)
    }

    /// [`connect`](Self::connect), with the addresses `get_host` and
    /// `get_peer` report.
    ///
    /// # Errors
    ///
    /// As for `connect`.
    pub fn with_addresses<P: Protocol<S>>(
        reactor: &Reactor<S>,
        protocol: P,
        host: SocketAddr,
        peer: SocketAddr,
    ) -> Result<Self> {
        let wire = Rc::new(Wire::default());
        let core = Core::new(Parts {
            reactor,
            kind: "string transport",
            peer: Address::Tcp(peer),
            host: Address::Tcp(host),
            channel: Box::new(StringChannel(wire.clone())),
            read_side: ReadSide::Manual,
            write_side: WriteSide::Direct,
            protocol: Box::new(protocol),
            on_lost: None,
        });
        reactor.with_ctx(|cx| core.start(cx))?;
        Ok(StringTransport {
            transport: Transport { core },
            wire,
            reactor: reactor.clone(),
        })
    }

    /// The transport the protocol writes to.
    pub fn transport(&self) -> &Transport<S> {
        &self.transport
    }

    /// Hands `data` to the protocol's `data_received`, now (Twisted:
    /// `proto.dataReceived(data)`).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] once the transport is closed or the peer's end was
    /// closed with [`end_of_input`](Self::end_of_input); [`Error::Reactor`]
    /// from inside a reactor callback.
    pub fn data_received(&self, data: &[u8]) -> Result<()> {
        let core = &self.transport.core;
        let delivered = self.reactor.with_ctx(|cx| core.deliver(cx, data))?;
        if delivered {
            Ok(())
        } else {
            Err(Error::Closed {
                operation: "deliver data",
                transport: format!("{:?}", self.transport),
                why: "the connection is closed, or its peer's end is".to_string(),
            })
        }
    }

    /// Everything the protocol wrote that the "kernel" took (Twisted's
    /// `value()`); while [`set_writable(false)`](Self::set_writable), later
    /// writes wait in the transport's buffer instead.
    pub fn value(&self) -> Vec<u8> {
        self.wire.written.borrow().clone()
    }

    /// [`value`](Self::value), emptying it.
    pub fn take_value(&self) -> Vec<u8> {
        std::mem::take(&mut *self.wire.written.borrow_mut())
    }

    /// Forgets what was written (Twisted's `clear()`).
    pub fn clear(&self) {
        self.wire.written.borrow_mut().clear();
    }

    /// Whether the transport is closing or closed (Twisted's
    /// `disconnecting`, set by `loseConnection`).
    pub fn disconnecting(&self) -> bool {
        self.transport.is_disconnecting()
    }

    /// Whether the write side was shut (`lose_write_connection`, flushed).
    pub fn write_shut(&self) -> bool {
        self.wire.write_shut.get()
    }

    /// Makes the "kernel" refuse writes (`false`: they wait in the
    /// transport's buffer, as when a peer reads too slowly, and a streaming
    /// producer is paused past the high-water mark on the next pass) or
    /// take them again (`true`: what waits is written now).
    ///
    /// # Errors
    ///
    /// [`Error::Reactor`] from inside a reactor callback.
    pub fn set_writable(&self, on: bool) -> Result<()> {
        self.wire.refusing.set(!on);
        if on {
            let core = &self.transport.core;
            self.reactor.with_ctx(|cx| core.on_writable(cx))?;
        }
        Ok(())
    }

    /// The peer closes its end for writing: the protocol's
    /// `read_connection_lost` is called now.
    ///
    /// # Errors
    ///
    /// [`Error::Reactor`] from inside a reactor callback.
    pub fn end_of_input(&self) -> Result<()> {
        let core = &self.transport.core;
        self.reactor.with_ctx(|cx| core.read_eof(cx))?;
        Ok(())
    }

    /// The connection is lost now, for `reason` (the peer reset it, say):
    /// the protocol's `connection_lost` is called.
    ///
    /// # Errors
    ///
    /// [`Error::Reactor`] from inside a reactor callback.
    pub fn lose(&self, reason: Reason) -> Result<()> {
        let core = &self.transport.core;
        self.reactor.with_ctx(|cx| core.close(cx, reason))?;
        Ok(())
    }
}

fn unspecified() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 0))
}
