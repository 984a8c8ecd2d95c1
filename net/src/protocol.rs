//! What user code implements: [`Protocol`] (one per connection), the
//! factories that build them ([`ServerFactory`], [`ClientFactory`]), and
//! [`Producer`] for paced writing; and [`NetCtx`], what their callbacks get.
//! Twisted's `twisted.internet.protocol`.

use std::fmt;
use std::net::SocketAddr;

use tx0mq_reactor::{Ctx, Reactor};

use crate::error::Reason;
use crate::tcp::Connector;
use crate::transport::Transport;

/// What a protocol's callbacks get: the reactor, the application state (see
/// [`tx0mq_reactor::Ctx`]), and the protocol's transport (Twisted's
/// `self.transport`), to write, close or pause it.
pub struct NetCtx<'a, S: 'static = ()> {
    /// The reactor: schedule calls, stop it...
    pub reactor: &'a Reactor<S>,
    /// The application state shared by every callback of the reactor.
    pub state: &'a mut S,
    /// The connection this event belongs to.
    pub transport: &'a Transport<S>,
}

impl<S: 'static> NetCtx<'_, S> {
    /// The plain reactor context (reactor and state), for helpers shared
    /// with timers and other callbacks that take a `&mut Ctx<S>`.
    pub fn ctx(&mut self) -> Ctx<'_, S> {
        Ctx {
            reactor: self.reactor,
            state: &mut *self.state,
        }
    }
}

impl<S: 'static> fmt::Debug for NetCtx<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetCtx")
            .field("transport", self.transport)
            .finish()
    }
}

/// What to do when the peer has closed its end for writing (this side read
/// end-of-file): the answer of [`Protocol::read_connection_lost`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterEof {
    /// Close the connection once what is buffered has been written; the
    /// protocol then hears `connection_lost(Reason::PeerClosed)`. Twisted's
    /// behaviour for a protocol that is not half-closeable.
    Close,
    /// Keep the connection open for writing (Twisted's
    /// `IHalfCloseableProtocol`): the protocol writes what it has left and
    /// calls `lose_connection` (or `lose_write_connection`) when done.
    KeepWriting,
}

/// A stream protocol: one value per connection, called on the reactor
/// thread (Twisted's `Protocol`, whose methods a subclass overrides).
///
/// Every method but `data_received` has a default that does nothing (or,
/// for `read_connection_lost`, closes the connection). A factory builds one
/// protocol per connection; state shared by several connections lives in
/// the reactor's state, `cx.state`.
///
/// ```
/// use tx0mq_net::{NetCtx, Protocol};
///
/// /// Twisted's `Echo` from echoserv.py.
/// struct Echo;
///
/// impl Protocol for Echo {
///     fn data_received(&mut self, cx: &mut NetCtx<'_>, data: &[u8]) {
///         if let Err(e) = cx.transport.write(data) {
///             log::warn!("echo: {e}");
///         }
///     }
/// }
/// ```
///
/// A panic in any of these methods is not survived by the connection: the
/// transport aborts it, and the protocol hears `connection_lost` with
/// [`Reason::Panicked`] on the next pass (the reactor logs the panic, or
/// lets it unwind, as it is configured).
pub trait Protocol<S: 'static = ()>: 'static {
    /// The connection is made (Twisted's `connectionMade`): called once,
    /// before any data.
    fn connection_made(&mut self, _cx: &mut NetCtx<'_, S>) {}

    /// Bytes arrived (Twisted's `dataReceived`). They are borrowed from the
    /// transport's read buffer: copy what you keep. Any chunking is
    /// possible; a protocol must not assume one write of the peer's is one
    /// call here (use [`LineReceiver`](crate::basic::LineReceiver) or
    /// [`Int32StringReceiver`](crate::basic::Int32StringReceiver) for
    /// framing).
    fn data_received(&mut self, cx: &mut NetCtx<'_, S>, data: &[u8]);

    /// Reading resumed after `cx.transport.pause_producing()`: a protocol
    /// that keeps received data it has not handled yet (the framing
    /// receivers) handles it now. Twisted's protocols do this from their
    /// own `resumeProducing`.
    fn reading_resumed(&mut self, _cx: &mut NetCtx<'_, S>) {}

    /// The peer closed its end for writing (Twisted's
    /// `IHalfCloseableProtocol.readConnectionLost`). The default,
    /// [`AfterEof::Close`], closes the connection once what is buffered is
    /// written.
    fn read_connection_lost(&mut self, _cx: &mut NetCtx<'_, S>) -> AfterEof {
        AfterEof::Close
    }

    /// This side's write end was shut down after `lose_write_connection`,
    /// with everything written (Twisted's
    /// `IHalfCloseableProtocol.writeConnectionLost`).
    fn write_connection_lost(&mut self, _cx: &mut NetCtx<'_, S>) {}

    /// The connection is gone (Twisted's `connectionLost(reason)`): called
    /// once, last. Writes now fail with [`Error::Closed`](crate::Error::Closed).
    fn connection_lost(&mut self, _cx: &mut NetCtx<'_, S>, _reason: &Reason) {}
}

/// A boxed protocol is a protocol: a factory can build protocols of
/// several types.
impl<S: 'static> Protocol<S> for Box<dyn Protocol<S>> {
    fn connection_made(&mut self, cx: &mut NetCtx<'_, S>) {
        (**self).connection_made(cx);
    }
    fn data_received(&mut self, cx: &mut NetCtx<'_, S>, data: &[u8]) {
        (**self).data_received(cx, data);
    }
    fn reading_resumed(&mut self, cx: &mut NetCtx<'_, S>) {
        (**self).reading_resumed(cx);
    }
    fn read_connection_lost(&mut self, cx: &mut NetCtx<'_, S>) -> AfterEof {
        (**self).read_connection_lost(cx)
    }
    fn write_connection_lost(&mut self, cx: &mut NetCtx<'_, S>) {
        (**self).write_connection_lost(cx);
    }
    fn connection_lost(&mut self, cx: &mut NetCtx<'_, S>, reason: &Reason) {
        (**self).connection_lost(cx, reason);
    }
}

/// A producer: what writes to a transport at the pace the transport can
/// take (Twisted's `IPushProducer`, or `IPullProducer` when registered as
/// not streaming). Register it with
/// [`Transport::register_producer`](crate::Transport::register_producer).
///
/// A *streaming* producer writes whenever it likes; it is paused when more
/// than the transport's high-water mark (64 KiB, Twisted's `bufferSize`)
/// waits for the kernel, and resumed once the buffer has drained. A *pull*
/// producer (not streaming) writes only from `resume_producing`, which the
/// transport calls each time its buffer is empty; it must write something
/// or unregister itself each time.
///
/// ```
/// use tx0mq_net::{NetCtx, Producer};
///
/// /// Writes `left` chunks of zeros, one per resume_producing (a pull producer).
/// struct Zeros { left: u32 }
///
/// impl Producer for Zeros {
///     fn pause_producing(&mut self, _cx: &mut NetCtx<'_>) {}
///     fn resume_producing(&mut self, cx: &mut NetCtx<'_>) {
///         if self.left == 0 {
///             cx.transport.unregister_producer();
///             return;
///         }
///         self.left -= 1;
///         let _ = cx.transport.write([0u8; 1024]);
///     }
/// }
/// ```
pub trait Producer<S: 'static = ()>: 'static {
    /// Stop writing until `resume_producing` (Twisted's `pauseProducing`).
    fn pause_producing(&mut self, cx: &mut NetCtx<'_, S>);
    /// Write again (streaming), or write the next piece (pull).
    fn resume_producing(&mut self, cx: &mut NetCtx<'_, S>);
    /// The transport is closing: stop for good (Twisted's `stopProducing`).
    fn stop_producing(&mut self, _cx: &mut NetCtx<'_, S>) {}
}

/// Builds a protocol for each connection a listening port accepts
/// (Twisted's `ServerFactory` with its `protocol` attribute or its
/// `buildProtocol(addr)`).
///
/// A closure `FnMut(SocketAddr) -> P` is a factory that accepts every
/// client: `reactor.listen_tcp(8000, |_| Echo)`. A struct implements this
/// trait to refuse some (returning `None` closes the connection at once, as
/// Twisted does when `buildProtocol` returns `None`) or to be told when it
/// starts and stops.
///
/// ```
/// use std::net::SocketAddr;
/// use tx0mq_net::{NetCtx, Protocol, ServerFactory};
///
/// struct Echo;
/// impl Protocol for Echo {
///     fn data_received(&mut self, cx: &mut NetCtx<'_>, data: &[u8]) {
///         let _ = cx.transport.write(data);
///     }
/// }
///
/// /// Serves loopback clients only.
/// struct LocalOnly;
/// impl ServerFactory for LocalOnly {
///     type Protocol = Echo;
///     fn build_protocol(&mut self, addr: SocketAddr) -> Option<Echo> {
///         addr.ip().is_loopback().then_some(Echo)
///     }
/// }
/// ```
pub trait ServerFactory<S: 'static = ()>: 'static {
    /// The protocol it builds.
    type Protocol: Protocol<S>;

    /// A protocol for a client connecting from `addr`, or `None` to refuse
    /// it (Twisted's `buildProtocol`).
    fn build_protocol(&mut self, addr: SocketAddr) -> Option<Self::Protocol>;

    /// The port started listening (Twisted's `startFactory`).
    fn start_factory(&mut self) {}

    /// The port stopped listening (Twisted's `stopFactory`).
    fn stop_factory(&mut self) {}
}

impl<S: 'static, F, P> ServerFactory<S> for F
where
    F: FnMut(SocketAddr) -> P + 'static,
    P: Protocol<S>,
{
    type Protocol = P;

    fn build_protocol(&mut self, addr: SocketAddr) -> Option<P> {
        Some(self(addr))
    }
}

/// Builds the protocol of an outgoing connection and hears how the attempt
/// and the connection went (Twisted's `ClientFactory`).
///
/// A closure `FnMut(SocketAddr) -> P` is a client factory that only builds
/// protocols. [`ReconnectingClientFactory`](crate::ReconnectingClientFactory)
/// wraps a factory to connect again, with backoff, when the connection
/// fails or is lost.
///
/// ```
/// use std::net::SocketAddr;
/// use tx0mq_net::{ClientFactory, Connector, NetCtx, Protocol, Reason};
/// use tx0mq_reactor::Ctx;
///
/// struct Hello;
/// impl Protocol for Hello {
///     fn connection_made(&mut self, cx: &mut NetCtx<'_>) {
///         let _ = cx.transport.write(b"hello");
///         cx.transport.lose_connection();
///     }
///     fn data_received(&mut self, _cx: &mut NetCtx<'_>, _data: &[u8]) {}
/// }
///
/// struct Once;
/// impl ClientFactory for Once {
///     type Protocol = Hello;
///     fn build_protocol(&mut self, _addr: SocketAddr) -> Hello {
///         Hello
///     }
///     fn client_connection_failed(&mut self, cx: &mut Ctx<'_>, _c: &Connector, reason: &Reason) {
///         println!("connection failed: {reason}");
///         let _ = cx.reactor.stop();
///     }
///     fn client_connection_lost(&mut self, cx: &mut Ctx<'_>, _c: &Connector, reason: &Reason) {
///         println!("connection lost: {reason}");
///         let _ = cx.reactor.stop();
///     }
/// }
/// ```
pub trait ClientFactory<S: 'static = ()>: 'static {
    /// The protocol it builds.
    type Protocol: Protocol<S>;

    /// The protocol for the connection just made to `addr` (Twisted's
    /// `buildProtocol`).
    fn build_protocol(&mut self, addr: SocketAddr) -> Self::Protocol;

    /// A connector began using the factory (Twisted's `startFactory`).
    fn start_factory(&mut self) {}

    /// No connector uses it any more: the attempt or connection ended and
    /// nothing connected again (Twisted's `stopFactory`).
    fn stop_factory(&mut self) {}

    /// A connection attempt began (Twisted's `startedConnecting`).
    fn started_connecting(&mut self, _connector: &Connector<S>) {}

    /// The attempt failed (Twisted's `clientConnectionFailed`): refused,
    /// timed out, cancelled, or the name did not resolve.
    /// `connector.connect()` tries again.
    fn client_connection_failed(
        &mut self,
        _cx: &mut Ctx<'_, S>,
        _connector: &Connector<S>,
        _reason: &Reason,
    ) {
    }

    /// The connection it made is gone (Twisted's `clientConnectionLost`),
    /// after its protocol's `connection_lost`. `connector.connect()`
    /// reconnects.
    fn client_connection_lost(
        &mut self,
        _cx: &mut Ctx<'_, S>,
        _connector: &Connector<S>,
        _reason: &Reason,
    ) {
    }
}

impl<S: 'static, F, P> ClientFactory<S> for F
where
    F: FnMut(SocketAddr) -> P + 'static,
    P: Protocol<S>,
{
    type Protocol = P;

    fn build_protocol(&mut self, addr: SocketAddr) -> P {
        self(addr)
    }
}
