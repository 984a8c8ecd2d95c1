//! The crate's error type, and [`Reason`]: why a connection ended.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

/// What can go wrong when calling this crate.
///
/// A failure of the connection itself (a reset, the peer closing) is not an
/// `Error` returned to the caller but a [`Reason`] handed to the protocol's
/// `connection_lost`, as in Twisted. Each variant's `Display` names the
/// transport and says what to do about it where that helps.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport takes no more of this operation: it is closed, being
    /// aborted, or its write side was shut down.
    Closed {
        /// What was attempted (`"write"`, `"register a producer"`, ...).
        operation: &'static str,
        /// The transport, as its `Debug` shows it.
        transport: String,
        /// Why it is closed (`"the connection was reset"`, ...).
        why: String,
    },
    /// A write would take the transport's write buffer past its limit
    /// (see `Transport::set_write_buffer_limit`); nothing was written.
    WriteBufferFull {
        /// The transport.
        transport: String,
        /// Bytes waiting for the kernel already.
        buffered: usize,
        /// The size of the refused write.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// A producer is registered already (Twisted raises `RuntimeError`).
    ProducerRegistered {
        /// The transport.
        transport: String,
    },
    /// A string too long for a length prefix (Twisted's `StringTooLongError`).
    StringTooLong {
        /// Its length.
        len: usize,
        /// The largest the prefix can describe.
        max: usize,
    },
    /// A connector was asked to do something its state does not allow
    /// (`connect` while connecting, `stop_connecting` while not).
    ConnectorState {
        /// What was asked.
        operation: &'static str,
        /// The destination, `host:port`.
        destination: String,
        /// The state it is in.
        state: &'static str,
    },
    /// A port could not be bound (Twisted's `CannotListenError`).
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the kernel said.
        source: io::Error,
    },
    /// An address that is not one (`"localhost:http"` given where a numeric
    /// address is needed, say).
    Address {
        /// The text.
        text: String,
        /// Why it was refused.
        why: String,
    },
    /// An operating-system call failed; `context` names what was being done.
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The reactor refused (it was dropped, or an fd is registered twice).
    Reactor(tx0mq_reactor::Error),
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Closed {
                operation,
                transport,
                why,
            } => write!(f, "cannot {operation} on {transport}: {why}"),
            Error::WriteBufferFull {
                transport,
                buffered,
                len,
                limit,
            } => write!(
                f,
                "cannot write {len} bytes on {transport}: {buffered} bytes already wait for \
                 the kernel and the write buffer's limit is {limit} (the peer reads too \
                 slowly; register a producer to be paused, or raise the limit with \
                 set_write_buffer_limit)"
            ),
            Error::ProducerRegistered { transport } => write!(
                f,
                "{transport} has a producer already; unregister it before registering another"
            ),
            Error::StringTooLong { len, max } => write!(
                f,
                "a string of {len} bytes cannot be sent with a length prefix whose largest \
                 value is {max}"
            ),
            Error::ConnectorState {
                operation,
                destination,
                state,
            } => write!(
                f,
                "cannot {operation} the connector to {destination}: it is {state}"
            ),
            Error::Bind { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            Error::Address { text, why } => write!(f, "{text:?} is not an address: {why}"),
            Error::Io { context, source } => write!(f, "{context}: {source}"),
            Error::Reactor(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Bind { source, .. } | Error::Io { source, .. } => Some(source),
            Error::Reactor(e) => Some(e),
            _ => None,
        }
    }
}

impl From<tx0mq_reactor::Error> for Error {
    fn from(e: tx0mq_reactor::Error) -> Self {
        Error::Reactor(e)
    }
}

/// The crate's `Result`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a connection ended, or a connection attempt failed: what
/// `connection_lost`, `client_connection_failed` and
/// `client_connection_lost` are told (Twisted passes a `Failure` wrapping
/// one of `twisted.internet.error`'s exceptions).
///
/// `Display` gives Twisted's message for the same case
/// (`getErrorMessage()`), so ported programs print what the originals do.
///
/// ```
/// use tx0mq_net::Reason;
///
/// assert!(Reason::PeerClosed.is_clean());
/// assert!(!Reason::Reset.is_clean());
/// assert!(!Reason::ReactorShutdown.is_clean());
/// assert_eq!(Reason::Closed.to_string(), "Connection was closed cleanly.");
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Reason {
    /// The peer closed the connection (this side read end-of-file), and
    /// what this side had left to write was flushed. Twisted's
    /// `ConnectionDone`.
    PeerClosed,
    /// This side closed it with `lose_connection`, after flushing. Also
    /// `ConnectionDone` in Twisted.
    Closed,
    /// This side closed it with `abort_connection`: buffered data was
    /// dropped. Twisted's `ConnectionAborted`.
    Aborted,
    /// The peer reset the connection (`ECONNRESET`, or `EPIPE` on a write).
    /// Twisted's `ConnectionLost`.
    Reset,
    /// A connection attempt was refused (`ECONNREFUSED`). Twisted's
    /// `ConnectionRefusedError`.
    Refused,
    /// A connection attempt did not complete within its timeout. Twisted's
    /// `TimeoutError`.
    TimedOut,
    /// A connection attempt was cancelled with `stop_connecting`. Twisted's
    /// `UserError`.
    Cancelled,
    /// The protocol panicked in one of its callbacks, so the transport
    /// aborted the connection: the protocol's idea of the stream can no
    /// longer be trusted (Twisted drops a connection whose protocol raises).
    Panicked,
    /// The reactor shut down (its `run` is returning after `stop`, or a
    /// signal), which closes every port, connector and connection: a
    /// connection's buffered data was written as far as the kernel took it
    /// at once, and the rest dropped; an attempt was cancelled. Twisted's
    /// reactor disconnects everything with `ConnectionLost` then.
    ReactorShutdown,
    /// Any other failure of the connection or of the attempt (a name that
    /// does not resolve, an unreachable network, ...), with the OS's error.
    Failed(Arc<io::Error>),
}

impl Reason {
    /// Whether the connection ended cleanly: [`PeerClosed`](Self::PeerClosed)
    /// or [`Closed`](Self::Closed) (Twisted's `ConnectionDone`).
    pub fn is_clean(&self) -> bool {
        matches!(self, Reason::PeerClosed | Reason::Closed)
    }

    /// The reason an I/O error on a connection stands for.
    pub fn from_io(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted => Reason::Reset,
            io::ErrorKind::ConnectionRefused => Reason::Refused,
            _ => Reason::Failed(Arc::new(e)),
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::PeerClosed | Reason::Closed => f.write_str("Connection was closed cleanly."),
            Reason::Aborted => {
                f.write_str("Connection was aborted locally using abort_connection.")
            }
            Reason::Reset => f.write_str(
                "Connection to the other side was lost in a non-clean fashion: \
                 Connection reset by peer.",
            ),
            Reason::Refused => {
                f.write_str("Connection was refused by other side: Connection refused.")
            }
            Reason::TimedOut => f.write_str("User timeout caused connection failure."),
            Reason::Cancelled => f.write_str("User aborted connection."),
            Reason::Panicked => f.write_str("The protocol panicked; the connection was aborted."),
            Reason::ReactorShutdown => f.write_str(
                "Connection to the other side was lost in a non-clean fashion: \
                 the reactor shut down.",
            ),
            Reason::Failed(e) => write!(f, "Connection failed: {e}."),
        }
    }
}
