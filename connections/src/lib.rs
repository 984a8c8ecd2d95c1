//! ZeroMQ connections on the [tx0mq reactor](tx0mq_reactor), with txZMQ's
//! names and wire formats.
//!
//! Each connection owns one ZeroMQ socket in the reactor. Its protocol (a
//! closure, or a struct implementing the pattern's trait, like subclassing in
//! txZMQ) is called on the reactor thread with a [`ZmqCtx`]: the reactor, the
//! application state, and the connection itself.
//!
//! Every connection type is a [`Connection<K, S>`](Connection) of one
//! [`pattern`] `K`: the methods every connection has (`shutdown`,
//! `add_endpoints`, `last_endpoint`, `pause_reading`, producers, streams)
//! are `Connection`'s; each pattern adds only the operations that keep its
//! wire protocol whole (a REQ connection frames every request, so it has
//! `send_msg` and no raw `send`). [`Connection::raw`] is the escape hatch to
//! the socket as a raw [`ZmqConnection`].
//!
//! | txZMQ / tx0mq (Python)              | here                                                        |
//! |-------------------------------------|-------------------------------------------------------------|
//! | `ZmqFactory`, `registerForShutdown` | [`ZmqFactory`], [`ZmqFactory::register_for_shutdown`]       |
//! | `ZmqEndpoint("bind", addr)`         | [`ZmqEndpoint::bind`]`(addr)`                               |
//! | `ZmqConnection.messageReceived`     | [`ZmqConnection::message_received`]                         |
//! | `ZmqConnection.addEndpoints`        | [`ZmqConnection::add_endpoints`]                            |
//! | `ZmqPubConnection.publish(m, tag)`  | [`ZmqPubConnection::publish`]                               |
//! | `ZmqSubConnection.gotMessage`       | [`ZmqSubConnection::got_message`], `subscribe`              |
//! | `ZmqPushConnection.push`            | [`ZmqPushConnection::push`]                                 |
//! | `ZmqPullConnection.onPull`          | [`ZmqPullConnection::on_pull`]                              |
//! | `ZmqREQConnection.sendMsg` → Deferred | [`ZmqReqConnection::send_msg`] → [`Deferred`](tx0mq_reactor::Deferred) |
//! | `ZmqREPConnection.gotMessage`/`reply` | [`ZmqRepConnection::got_message`], [`ZmqRepConnection::reply`] |
//! | `ZmqRouterConnection`               | [`ZmqRouterConnection`] (`send_msg(recipient, parts)`)      |
//! | `ZmqDealerConnection`               | [`ZmqDealerConnection`]                                     |
//! | tx0mq `ZmqXREQ`/`ZmqXREPConnection` | deprecated aliases of the REQ/REP connections               |
//! | (new) PAIR, XPUB, XSUB, STREAM      | [`ZmqPairConnection`], [`ZmqXPubConnection`], [`ZmqXSubConnection`], [`ZmqStreamConnection`] |
//! | pyzmq `zmq.proxy`, `zmq.device`, `monitored_queue`, `zmq_proxy_steerable`, `ThreadDevice` | [`Device`] ([`Device::proxy`], [`Device::builder`] with capture, control, monitor), [`ThreadDevice`]; see [`device`] |
//! | pyzmq `socket.recv_into(buffer)`    | [`Connection::on_recv_into`] (each frame into a buffer the connection owns, as a [`FrameInto`]; no allocation per receive) |
//! | pyzmq `poller.poll()`, `socket.poll(0)` | [`Connection::events`] (`ZMQ_EVENTS`)                    |
//! | pyzmq `send_json`, `recv_json`     | [`Connection::send_json`], [`Connection::on_json`] (feature `json`, on by default; see [`serial`]) |
//! | pyzmq `send_serialized`, `recv_serialized` | [`Connection::send_serialized`], [`Connection::on_serialized`], [`serial::Codec`] |
//! | pyzmq `zmq.log.handlers.PUBHandler` | [`PubLogHandler`] (a `log::Log`), [`PubLogRecord`] for the subscriber side |
//! | pyzmq `get_monitor_socket`, `recv_monitor_message` | [`Connection::monitor`], [`Connection::on_monitor`], [`MonitorEvent`]; the protocol's [`peer_connected`](Protocol::peer_connected), [`peer_disconnected`](Protocol::peer_disconnected), [`handshake_failed`](Protocol::handshake_failed) |
//!
//! # Example
//!
//! ```
//! use tx0mq_connections::{ZmqEndpoint, ZmqFactory, ZmqPubConnection, ZmqSubConnection};
//! use tx0mq_reactor::Reactor;
//!
//! let reactor = Reactor::builder().handle_signals(false).build()?;
//! let factory = ZmqFactory::new(&reactor)?;
//! factory.register_for_shutdown();
//! let publisher = ZmqPubConnection::new(&factory, ZmqEndpoint::bind("tcp://127.0.0.1:*"))?;
//! let sub = ZmqSubConnection::new(&factory, ZmqEndpoint::connect(publisher.last_endpoint()?))?;
//! sub.subscribe(b"")?;
//! sub.got_message(|cx, message, tag| {
//!     println!("message received: {:?}", (message, tag));
//!     cx.reactor.stop()
//! });
//! // A slow joiner: publish until the subscription has arrived.
//! let ticker = tx0mq_reactor::LoopingCall::new(&reactor, move |_| publisher.publish(b"hi", b"tag"));
//! ticker.start(std::time::Duration::from_millis(10), true)?;
//! reactor.run()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Sending and backpressure
//!
//! Sends never block the reactor. A message libzmq cannot take at once
//! (high-water mark reached, or no peer yet for PUSH/DEALER/REQ) waits whole
//! in the connection's outbox and goes out in order on POLLOUT; past the
//! outbox limit (`ZmqOptions::outbox_limit`), sends fail with
//! [`Error::OutboxFull`]. PUB never queues. A sender learns when to
//! pause and resume from a [`ZmqProducer`] ([`ZmqConnection::register_producer`],
//! [`ZmqConnection::produce_with`]); a reader can push back upstream with
//! [`ZmqConnection::pause_reading`].
//!
//! # async/await
//!
//! Connections work from futures spawned on the reactor
//! ([`Reactor::spawn`](tx0mq_reactor::Reactor::spawn)): a REQ connection's
//! `send_msg(...)` returns a Deferred, which can be awaited
//! (`req.send_msg(b"ping").await?`), and [`ZmqConnection::messages`] turns a
//! connection's incoming messages into a [`MessageStream`] to pull with
//! `stream.next().await`.
//!
//! # Platforms, and the `zmq` crate
//!
//! Unix only (Linux, the BSDs, macOS): the reactor polls Unix file
//! descriptors, and other targets fail to compile with a message saying so.
//!
//! This crate re-exports the [`zmq`] crate (0.10), whose types appear in its
//! API ([`zmq::SocketType`], [`zmq::Error`], the sockets of
//! [`ZmqContext::socket`] and [`Connection::with_socket`]). A new major
//! version of `zmq` will be a new major version of this crate; use the
//! re-export (`tx0mq_connections::zmq`) rather than a `zmq` dependency of
//! your own, so that the two never differ.
#![deny(missing_docs)]
#![deny(unsafe_code)]

#[cfg(not(unix))]
compile_error!(
    "tx0mq-connections supports Unix only (Linux, the BSDs, macOS): the reactor polls Unix file descriptors"
);

mod connection;
mod context;
mod core;
pub mod device;
mod endpoint;
mod error;
mod factory;
mod frames;
pub mod log_handler;
mod monitor;
mod options;
mod outbox;
pub mod pattern;
mod poll;
mod recv_into;
pub mod security;
pub mod serial;
mod socket;
mod stats;
pub mod stream;
pub mod testing;
mod warn_limit;

pub use crate::connection::{Connection, IntoEndpoints, Protocol, SendReady, ZmqCtx, ZmqProducer};
pub use crate::context::{
    socket_limit, ContextBuilder, ZmqContext, ZmqSocket, DEFAULT_MAX_SOCKETS,
};
pub use crate::core::{ConnectionLost, LostReason, BATCH};
pub use crate::device::{
    Device, DeviceBuilder, DeviceType, ProxyStatistics, SideStatistics, ThreadDevice,
    DEFAULT_IN_PREFIX, DEFAULT_OUT_PREFIX,
};
pub use crate::endpoint::{ZmqEndpoint, ZmqEndpointType};
pub use crate::error::{Error, Result, ZmqRequestTimeoutError};
pub use crate::factory::{ZmqFactory, DEFAULT_LINGER};
pub use crate::frames::{bytes_repr, Frame, IntoFrame, IntoIter, IntoMultipart, Multipart};
pub use crate::log_handler::{PubLogHandler, PubLogRecord, PyLevel};
pub use crate::monitor::{Errno, MalformedEvent, MonitorEvent, MonitorEvents, ProtocolError};
pub use crate::options::{
    ZmqOptions, DEFAULT_HIGH_WATER_MARK, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_OUTBOX_BYTES,
    DEFAULT_OUTBOX_LIMIT,
};
#[allow(deprecated)]
pub use crate::pattern::{
    proxy, DealerProtocol, PullProtocol, RepProtocol, RouterProtocol, SubProtocol, XPubProtocol,
    ZmqConnection, ZmqDealerConnection, ZmqPairConnection, ZmqProtocol, ZmqPubConnection,
    ZmqPullConnection, ZmqPushConnection, ZmqRepConnection, ZmqReqConnection, ZmqRouterConnection,
    ZmqStreamConnection, ZmqSubConnection, ZmqXPubConnection, ZmqXRepConnection, ZmqXReqConnection,
    ZmqXSubConnection, DEFAULT_TOPIC_SEP,
};
pub use crate::recv_into::FrameInto;
pub use crate::stats::{ConnectionStats, FactoryStats};
pub use crate::stream::{Elapsed, MessageStream, DEFAULT_STREAM_CAPACITY};
pub use zmq;
