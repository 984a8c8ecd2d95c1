//! tx0mq: a Twisted-style reactor and txZMQ-compatible ZeroMQ connections.
//!
//! This facade re-exports the three crates of the project:
//!
//! - [`reactor`] (`tx0mq-reactor`): the single-threaded event loop, timers,
//!   `Deferred`, `LoopingCall`, thread calls and fd readers;
//! - [`connections`] (`tx0mq-connections`): ZeroMQ connections whose callbacks
//!   run in the reactor, speaking txZMQ's wire formats;
//! - [`net`] (`tx0mq-net`): Twisted's transports and protocols on the same
//!   reactor: TCP (`reactor.listen_tcp`, `connect_tcp`), UDP, standard I/O,
//!   `LineReceiver` and `Int32StringReceiver`.
//!
//! The most used items are also available at the top level.
//!
//! Unix only (Linux, the BSDs, macOS): the reactor polls Unix file
//! descriptors, and other targets fail to compile with a message saying so.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(not(unix))]
compile_error!(
    "tx0mq supports Unix only (Linux, the BSDs, macOS): the reactor polls Unix file descriptors"
);

pub use tx0mq_connections as connections;
pub use tx0mq_net as net;
pub use tx0mq_reactor as reactor;

pub use tx0mq_reactor::{
    defer_later, ensure_deferred, gather_futures, gather_results, sleep, Ctx, Deferred,
    DelayedCall, Failure, LoopingCall, Phase, Reactor, ReactorThread, SendFailure, SystemEvent,
    ThreadHandle,
};

/// The README's examples, compiled as doc tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// docs/DEPLOYMENT.md's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../docs/DEPLOYMENT.md")]
pub struct DeploymentDoctests;
