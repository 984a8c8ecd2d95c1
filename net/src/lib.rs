//! Twisted's transports and protocols on the [tx0mq reactor](tx0mq_reactor):
//! TCP servers and clients, UDP, the process's standard input and output,
//! and line and length-prefixed framing, beside the ZeroMQ connections of
//! the same reactor.
//!
//! A Twisted program that also listens on TCP with a `LineReceiver`, talks
//! UDP, or reads stdin with `StandardIO` ports to this crate with the same
//! names, in snake case:
//!
//! | Twisted                                        | here                                                   |
//! |------------------------------------------------|--------------------------------------------------------|
//! | `reactor.listenTCP(port, factory)`             | [`reactor.listen_tcp(port, factory)`](ReactorNet::listen_tcp) → [`Port`] |
//! | `reactor.connectTCP(host, port, factory)`      | [`reactor.connect_tcp(host, port, factory)`](ReactorNet::connect_tcp) → [`Connector`] |
//! | `reactor.listenUDP(port, protocol)`            | [`reactor.listen_udp(port, protocol)`](ReactorNet::listen_udp) → [`UdpPort`] |
//! | `protocol.Protocol` (`dataReceived`, ...)      | [`Protocol`] (`data_received`, ...)                     |
//! | `self.transport`                               | `cx.transport`, a [`Transport`]                         |
//! | `Factory` / `ServerFactory`, `buildProtocol`   | [`ServerFactory`], or a closure `\|addr\| Proto`        |
//! | `ClientFactory`, `clientConnectionLost`        | [`ClientFactory`], [`ClientFactory::client_connection_lost`] |
//! | `ReconnectingClientFactory`                    | [`ReconnectingClientFactory`] (and its [`Backoff`])     |
//! | `basic.LineReceiver`, `Int32StringReceiver`    | [`basic::LineReceiver`], [`basic::Int32StringReceiver`] |
//! | `protocol.DatagramProtocol`                    | [`udp::DatagramProtocol`]                               |
//! | `stdio.StandardIO(proto)`                      | [`StandardIO::new(&reactor, proto)`](StandardIO::new)  |
//! | `twisted.internet.testing.StringTransport`     | [`testing::StringTransport`]                            |
//! | `ConnectionDone`, `ConnectionLost`, ...        | [`Reason`]                                              |
//! | the reactor's `disconnectAll` at shutdown      | the same, before `run` returns ([below](#when-the-reactor-shuts-down)) |
//!
//! Every callback gets a context with the reactor, the application state
//! (`cx.state`, as every callback of the project does) and its transport,
//! so connections share state with timers and ZeroMQ connections without
//! `Rc<RefCell<_>>`.
//!
//! # Example: Twisted's echo server
//!
//! ```
//! use tx0mq_net::{NetCtx, Protocol, ReactorNet};
//! use tx0mq_reactor::Reactor;
//!
//! struct Echo;
//!
//! impl Protocol for Echo {
//!     fn data_received(&mut self, cx: &mut NetCtx<'_>, data: &[u8]) {
//!         // As soon as any data is received, write it back.
//!         if let Err(e) = cx.transport.write(data) {
//!             log::warn!("{e}");
//!         }
//!     }
//! }
//!
//! let reactor = Reactor::builder().handle_signals(false).build()?;
//! let port = reactor.listen_tcp("127.0.0.1:0", |_addr| Echo)?;
//! println!("echoing on {}", port.get_host());
//! # port.stop_listening();
//! // reactor.run()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Writing, closing, backpressure
//!
//! `write` hands bytes to the kernel at once when it takes them, and
//! otherwise keeps them, in order, in the transport's write buffer, flushed
//! as the peer reads. The buffer is bounded (64 MiB by default,
//! [`Transport::set_write_buffer_limit`]); past it, `write` fails with
//! [`Error::WriteBufferFull`] and writes nothing. A [`Producer`] registered
//! on the transport is paused when more than 64 KiB waits and resumed when
//! the buffer has drained, so a sender keeps pace with a slow reader.
//! `lose_connection` flushes, then closes; `abort_connection` drops what is
//! buffered. Writes to a closed transport fail with [`Error::Closed`]. The
//! protocol's `connection_lost` gets a [`Reason`] that says whether the end
//! was clean, a reset, an error, or this side's close or abort.
//!
//! How transports sit on the edge-triggered reactor is described in the
//! [`transport`] module.
//!
//! Unix only (Linux, the BSDs, macOS): the reactor polls Unix file
//! descriptors, and other targets fail to compile with a message saying so.
//!
//! # When the reactor shuts down
//!
//! When `run` returns (after `stop`, or SIGINT/SIGTERM), the reactor's
//! shutdown has closed everything of this crate on that reactor, as
//! Twisted's reactor disconnects every reader and writer during its
//! shutdown. In a "during shutdown" system event trigger, in this order:
//!
//! - listening TCP ports stop listening (their factory's `stop_factory`
//!   runs), and UDP ports close (their protocol's `stop_protocol` runs);
//! - connectors stop: an attempt under way is cancelled (the factory hears
//!   `client_connection_failed`), a [`ReconnectingClientFactory`] stops
//!   retrying;
//! - connections (TCP, [`StandardIO`]) close: what waits in a write buffer
//!   goes to the kernel as far as it takes it at once, without blocking,
//!   and the rest is dropped; the protocol's `connection_lost`, then a
//!   client factory's `client_connection_lost`, run before `run` returns.
//!
//! They hear [`Reason::ReactorShutdown`] (not clean, as Twisted's
//! `ConnectionLost`), except a connection whose own close was under way
//! (`lose_connection` with everything flushed, `abort_connection`), which
//! keeps that close's reason. Every socket is closed when `run` returns;
//! a callback that panics meanwhile does not keep the rest open (its panic
//! is raised again once they are closed).
//!
//! ```
//! use tx0mq_net::{NetCtx, Protocol, ReactorNet, Reason};
//! use tx0mq_reactor::Reactor;
//!
//! /// Stops the reactor as soon as a client connects.
//! struct StopOnConnect;
//!
//! impl Protocol<Vec<String>> for StopOnConnect {
//!     fn connection_made(&mut self, cx: &mut NetCtx<'_, Vec<String>>) {
//!         let _ = cx.reactor.stop();
//!     }
//!     fn data_received(&mut self, _cx: &mut NetCtx<'_, Vec<String>>, _data: &[u8]) {}
//!     fn connection_lost(&mut self, cx: &mut NetCtx<'_, Vec<String>>, reason: &Reason) {
//!         cx.state.push(reason.to_string());
//!     }
//! }
//!
//! let reactor = Reactor::builder()
//!     .state(Vec::new())
//!     .handle_signals(false)
//!     .build()?;
//! let port = reactor.listen_tcp("127.0.0.1:0", |_| StopOnConnect)?;
//! let _client = std::net::TcpStream::connect(port.get_host())?;
//! reactor.run()?;
//! // The shutdown closed the connection and the port.
//! assert!(!port.is_listening());
//! let lost = reactor.access_state(|lost| lost.clone())?;
//! assert_eq!(lost, [Reason::ReactorShutdown.to_string()]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(not(unix))]
compile_error!(
    "tx0mq-net supports Unix only (Linux, the BSDs, macOS): the reactor polls Unix file descriptors"
);

mod address;
pub mod basic;
mod buffer;
mod error;
mod protocol;
mod reconnect;
mod rng;
mod shutdown;
pub mod stdio;
pub mod tcp;
pub mod testing;
pub mod transport;
pub mod udp;

use std::time::Duration;

use tx0mq_reactor::Reactor;

pub use crate::address::{Address, ListenAddr};
pub use crate::error::{Error, Reason, Result};
pub use crate::protocol::{AfterEof, ClientFactory, NetCtx, Producer, Protocol, ServerFactory};
pub use crate::reconnect::{
    Backoff, ReconnectingClientFactory, DEFAULT_FACTOR, DEFAULT_INITIAL_DELAY, DEFAULT_JITTER,
    DEFAULT_MAX_DELAY,
};
pub use crate::stdio::StandardIO;
pub use crate::tcp::{Connector, ConnectorState, Port, DEFAULT_CONNECT_TIMEOUT};
pub use crate::transport::{Transport, DEFAULT_PRODUCER_HIGH_WATER, DEFAULT_WRITE_BUFFER_LIMIT};
pub use crate::udp::{DatagramProtocol, UdpCtx, UdpPort};

/// The network methods of the reactor: Twisted's `IReactorTCP` and
/// `IReactorUDP`, which its reactor implements (`reactor.listenTCP(...)`).
///
/// They are methods on [`Reactor`] so that a ported program reads as the
/// original does: `reactor.listen_tcp(8000, factory)` for
/// `reactor.listenTCP(8000, factory)`. Bring the trait into scope with
/// `use tx0mq_net::ReactorNet;` (or `tx0mq::net::ReactorNet`).
pub trait ReactorNet<S: 'static> {
    /// Listens on TCP (Twisted's `listenTCP`): each connection accepted gets
    /// a protocol from `factory`. `addr` is a port number (every IPv4
    /// interface), or an address (see [`ListenAddr`]); port 0 asks the
    /// kernel for one, which [`Port::get_host`] tells.
    ///
    /// # Errors
    ///
    /// [`Error::Bind`] if the address cannot be bound (in use, not local:
    /// Twisted's `CannotListenError`); [`Error::Address`] for text that is
    /// not an address; [`Error::Reactor`] if the reactor refuses the socket.
    fn listen_tcp<F: ServerFactory<S>>(&self, addr: impl ListenAddr, factory: F)
        -> Result<Port<S>>;

    /// Connects to `host:port` (Twisted's `connectTCP`), with Twisted's
    /// 30 s timeout: `factory` hears `client_connection_failed`, or builds
    /// the connection's protocol. Never blocks: a name is resolved on a
    /// helper thread.
    fn connect_tcp<F: ClientFactory<S>>(&self, host: &str, port: u16, factory: F) -> Connector<S>;

    /// [`connect_tcp`](Self::connect_tcp) with another timeout (`None`:
    /// wait as long as the kernel does).
    fn connect_tcp_with_timeout<F: ClientFactory<S>>(
        &self,
        host: &str,
        port: u16,
        factory: F,
        timeout: Option<Duration>,
    ) -> Connector<S>;

    /// Binds a UDP port (Twisted's `listenUDP`, and `listenMulticast`: join
    /// groups with [`UdpPort::join_group`]); each datagram goes to
    /// `protocol`.
    ///
    /// # Errors
    ///
    /// As for [`listen_tcp`](Self::listen_tcp).
    fn listen_udp<P: DatagramProtocol<S>>(
        &self,
        addr: impl ListenAddr,
        protocol: P,
    ) -> Result<UdpPort<S>>;
}

impl<S: 'static> ReactorNet<S> for Reactor<S> {
    fn listen_tcp<F: ServerFactory<S>>(
        &self,
        addr: impl ListenAddr,
        factory: F,
    ) -> Result<Port<S>> {
        tcp::listen_tcp(self, addr.listen_addr()?, factory)
    }

    fn connect_tcp<F: ClientFactory<S>>(&self, host: &str, port: u16, factory: F) -> Connector<S> {
        tcp::connect_tcp(self, host, port, factory, Some(DEFAULT_CONNECT_TIMEOUT))
    }

    fn connect_tcp_with_timeout<F: ClientFactory<S>>(
        &self,
        host: &str,
        port: u16,
        factory: F,
        timeout: Option<Duration>,
    ) -> Connector<S> {
        tcp::connect_tcp(self, host, port, factory, timeout)
    }

    fn listen_udp<P: DatagramProtocol<S>>(
        &self,
        addr: impl ListenAddr,
        protocol: P,
    ) -> Result<UdpPort<S>> {
        udp::listen_udp(self, addr.listen_addr()?, protocol)
    }
}
