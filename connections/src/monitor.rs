//! Socket-monitor events: who connected, went away or failed its handshake.
//!
//! ZeroMQ hides its peers: a socket connects, reconnects and accepts in
//! libzmq's I/O thread, and nothing reaches the application unless it asks
//! libzmq for a *monitor*. [`Connection::monitor`] does that for any
//! connection, and the events reach the connection's protocol
//! ([`Protocol::peer_connected`](crate::Protocol::peer_connected),
//! [`peer_disconnected`](crate::Protocol::peer_disconnected),
//! [`handshake_failed`](crate::Protocol::handshake_failed), and
//! [`monitor_event`](crate::Protocol::monitor_event) for all of them) and
//! the closure set with [`Connection::on_monitor`], as [`MonitorEvent`]s.
//!
//! Monitoring is off until asked for, and costs nothing then.
//!
//! # How it works
//!
//! libzmq's `zmq_socket_monitor` makes the socket send one message per
//! event, `[event id and value, endpoint]`, on an `inproc://` PAIR socket of
//! its own. The connection reads it through a PAIR of the factory's
//! context, connected to an endpoint unique to the connection, which sits
//! in the reactor as a connection of its own (with the same edge-trigger
//! handling as every connection) and whose pattern decodes each message. A
//! message that is not an event is logged, at a bounded rate, and skipped.
//!
//! Stopping the monitor ([`Connection::stop_monitor`], or shutting the
//! connection down) first tells libzmq to stop writing (which writes the
//! last event, `MonitorStopped`, when it was asked for), then reads every
//! event libzmq had written, delivers them, and only then closes the PAIR:
//! no event libzmq delivered is lost. The order matters: a libzmq monitor
//! whose reader is gone blocks the thread that tries to write the next
//! event (one of the context's I/O threads), and with it every socket that
//! thread serves.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::ops::{BitAnd, BitOr, BitOrAssign, Deref};
use std::os::unix::io::RawFd;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tx0mq_reactor::{CallbackResult, Ctx};

use crate::connection::{Connection, Listener, ZmqCtx};
use crate::core::{Core, LostReason};
use crate::endpoint::ZmqEndpoint;
use crate::error::{Error, Result};
use crate::frames::Multipart;
use crate::options::ZmqOptions;
use crate::pattern::{Decoded, Pattern, Refused};

// ---------------------------------------------------------------------------
// Event sets

/// A set of monitor event kinds: what [`Connection::monitor_events`] asks
/// libzmq to report. Combine with `|`:
/// `MonitorEvents::CONNECTED | MonitorEvents::DISCONNECTED`.
///
/// The values are libzmq's `ZMQ_EVENT_*` bits.
///
/// ```
/// use tx0mq_connections::MonitorEvents;
///
/// let peers = MonitorEvents::ACCEPTED | MonitorEvents::DISCONNECTED;
/// assert!(peers.contains(MonitorEvents::ACCEPTED));
/// assert!(!peers.contains(MonitorEvents::CONNECTED));
/// assert!(MonitorEvents::ALL.contains(MonitorEvents::HANDSHAKE_FAILED));
/// assert_eq!(format!("{peers:?}"), "MonitorEvents(ACCEPTED | DISCONNECTED)");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MonitorEvents(u16);

/// The named event kinds, in bit order.
const NAMES: [(MonitorEvents, &str); 15] = [
    (MonitorEvents::CONNECTED, "CONNECTED"),
    (MonitorEvents::CONNECT_DELAYED, "CONNECT_DELAYED"),
    (MonitorEvents::CONNECT_RETRIED, "CONNECT_RETRIED"),
    (MonitorEvents::LISTENING, "LISTENING"),
    (MonitorEvents::BIND_FAILED, "BIND_FAILED"),
    (MonitorEvents::ACCEPTED, "ACCEPTED"),
    (MonitorEvents::ACCEPT_FAILED, "ACCEPT_FAILED"),
    (MonitorEvents::CLOSED, "CLOSED"),
    (MonitorEvents::CLOSE_FAILED, "CLOSE_FAILED"),
    (MonitorEvents::DISCONNECTED, "DISCONNECTED"),
    (MonitorEvents::MONITOR_STOPPED, "MONITOR_STOPPED"),
    (
        MonitorEvents::HANDSHAKE_FAILED_NO_DETAIL,
        "HANDSHAKE_FAILED_NO_DETAIL",
    ),
    (MonitorEvents::HANDSHAKE_SUCCEEDED, "HANDSHAKE_SUCCEEDED"),
    (
        MonitorEvents::HANDSHAKE_FAILED_PROTOCOL,
        "HANDSHAKE_FAILED_PROTOCOL",
    ),
    (
        MonitorEvents::HANDSHAKE_FAILED_AUTH,
        "HANDSHAKE_FAILED_AUTH",
    ),
];

impl MonitorEvents {
    /// [`MonitorEvent::Connected`]: a connect succeeded at the TCP level.
    pub const CONNECTED: Self = Self(0x0001);
    /// [`MonitorEvent::ConnectDelayed`]: a connect is in progress.
    pub const CONNECT_DELAYED: Self = Self(0x0002);
    /// [`MonitorEvent::ConnectRetried`]: a reconnect is scheduled.
    pub const CONNECT_RETRIED: Self = Self(0x0004);
    /// [`MonitorEvent::Listening`]: a bind succeeded.
    pub const LISTENING: Self = Self(0x0008);
    /// [`MonitorEvent::BindFailed`]: a bind failed.
    pub const BIND_FAILED: Self = Self(0x0010);
    /// [`MonitorEvent::Accepted`]: a peer connected to a bound endpoint.
    pub const ACCEPTED: Self = Self(0x0020);
    /// [`MonitorEvent::AcceptFailed`]: accepting a peer failed.
    pub const ACCEPT_FAILED: Self = Self(0x0040);
    /// [`MonitorEvent::Closed`]: a descriptor was closed.
    pub const CLOSED: Self = Self(0x0080);
    /// [`MonitorEvent::CloseFailed`]: closing a descriptor failed.
    pub const CLOSE_FAILED: Self = Self(0x0100);
    /// [`MonitorEvent::Disconnected`]: a peer's connection ended.
    pub const DISCONNECTED: Self = Self(0x0200);
    /// [`MonitorEvent::MonitorStopped`]: the monitor stopped (its last event).
    pub const MONITOR_STOPPED: Self = Self(0x0400);
    /// [`MonitorEvent::HandshakeFailedNoDetail`].
    pub const HANDSHAKE_FAILED_NO_DETAIL: Self = Self(0x0800);
    /// [`MonitorEvent::HandshakeSucceeded`].
    pub const HANDSHAKE_SUCCEEDED: Self = Self(0x1000);
    /// [`MonitorEvent::HandshakeFailedProtocol`].
    pub const HANDSHAKE_FAILED_PROTOCOL: Self = Self(0x2000);
    /// [`MonitorEvent::HandshakeFailedAuth`].
    pub const HANDSHAKE_FAILED_AUTH: Self = Self(0x4000);
    /// The three handshake failures.
    pub const HANDSHAKE_FAILED: Self = Self(0x0800 | 0x2000 | 0x4000);
    /// Every event, including kinds a later libzmq may add (`ZMQ_EVENT_ALL`).
    pub const ALL: Self = Self(0xFFFF);

    /// No event.
    pub const fn empty() -> Self {
        Self(0)
    }

    /// The set with libzmq's bits `bits` (any bits: later libzmqs may add kinds).
    pub const fn from_bits(bits: u16) -> Self {
        Self(bits)
    }

    /// libzmq's bits for the set.
    pub const fn bits(self) -> u16 {
        self.0
    }

    /// Whether every kind in `other` is in the set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the set and `other` have a kind in common.
    pub const fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The libzmq name of a single kind without its `ZMQ_EVENT_` prefix
    /// (`"CONNECTED"`); `None` for a set of several kinds, an empty one or
    /// an unknown bit.
    pub fn name(self) -> Option<&'static str> {
        NAMES.iter().find(|(e, _)| *e == self).map(|(_, n)| *n)
    }

    /// Each named kind with its name, in libzmq's bit order: the table
    /// every `ZMQ_EVENT_*` constant comes from.
    pub fn named() -> impl Iterator<Item = (MonitorEvents, &'static str)> {
        NAMES.iter().copied()
    }
}

impl BitOr for MonitorEvents {
    type Output = Self;
    fn bitor(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

impl BitOrAssign for MonitorEvents {
    fn bitor_assign(&mut self, other: Self) {
        self.0 |= other.0;
    }
}

impl BitAnd for MonitorEvents {
    type Output = Self;
    fn bitand(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }
}

/// `MonitorEvents(CONNECTED | DISCONNECTED)`, `MonitorEvents(ALL)`, and
/// unknown bits in hex.
impl fmt::Debug for MonitorEvents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Self::ALL {
            return f.write_str("MonitorEvents(ALL)");
        }
        let mut parts: Vec<String> = NAMES
            .iter()
            .filter(|(e, _)| self.contains(*e))
            .map(|(_, n)| (*n).to_string())
            .collect();
        let known = NAMES.iter().fold(0, |bits, (e, _)| bits | e.0);
        let rest = self.0 & !known;
        if rest != 0 {
            parts.push(format!("{rest:#06x}"));
        }
        write!(f, "MonitorEvents({})", parts.join(" | "))
    }
}

// ---------------------------------------------------------------------------
// Values carried by events

/// An `errno` value that libzmq reported with an event (a bind or accept
/// that failed, a handshake that ended without detail).
///
/// ```
/// use tx0mq_connections::Errno;
///
/// assert_eq!(Errno(98).to_string(), "EADDRINUSE: Address in use");
/// assert_eq!(Errno(1234).to_string(), "errno 1234");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

/// The errno values libzmq reports with events, named (Linux numbering,
/// and libzmq's own above `ZMQ_HAUSNUMERO`).
const ERRNO_NAMES: [(i32, &str, &str); 22] = [
    (0, "0", "no error code"),
    (1, "EPERM", "Operation not permitted"),
    (4, "EINTR", "Interrupted system call"),
    (9, "EBADF", "Bad file descriptor"),
    (11, "EAGAIN", "Resource temporarily unavailable"),
    (12, "ENOMEM", "Out of memory"),
    (13, "EACCES", "Permission denied"),
    (22, "EINVAL", "Invalid argument"),
    (23, "ENFILE", "Too many open files in system"),
    (24, "EMFILE", "Too many open files"),
    (32, "EPIPE", "Broken pipe"),
    (71, "EPROTO", "Protocol error"),
    (98, "EADDRINUSE", "Address in use"),
    (99, "EADDRNOTAVAIL", "Address not available"),
    (103, "ECONNABORTED", "Connection aborted"),
    (104, "ECONNRESET", "Connection reset by peer"),
    (105, "ENOBUFS", "No buffer space available"),
    (110, "ETIMEDOUT", "Connection timed out"),
    (111, "ECONNREFUSED", "Connection refused"),
    (113, "EHOSTUNREACH", "No route to host"),
    (115, "EINPROGRESS", "Operation in progress"),
    (156_384_765, "ETERM", "Context was terminated"),
];

impl Errno {
    /// The symbolic name (`"EADDRINUSE"`), for the values libzmq reports
    /// with events.
    pub fn name(self) -> Option<&'static str> {
        ERRNO_NAMES
            .iter()
            .find(|(n, _, _)| *n == self.0)
            .map(|(_, name, _)| *name)
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match ERRNO_NAMES.iter().find(|(n, _, _)| *n == self.0) {
            Some((0, _, text)) => f.write_str(text),
            Some((_, name, text)) => write!(f, "{name}: {text}"),
            None => write!(f, "errno {}", self.0),
        }
    }
}

/// A ZMTP protocol error code, as libzmq reports a handshake that broke the
/// protocol ([`MonitorEvent::HandshakeFailedProtocol`]): libzmq's
/// `ZMQ_PROTOCOL_ERROR_*` values.
///
/// ```
/// use tx0mq_connections::ProtocolError;
///
/// let e = ProtocolError::ZMTP_MECHANISM_MISMATCH;
/// assert_eq!(e.name(), Some("ZMTP_MECHANISM_MISMATCH"));
/// assert_eq!(e.to_string(), "ZMTP_MECHANISM_MISMATCH (0x11000002)");
/// assert_eq!(ProtocolError(7).to_string(), "unknown protocol error 0x00000007");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProtocolError(pub u32);

macro_rules! protocol_errors {
    ($($(#[$doc:meta])* $name:ident = $value:expr;)*) => {
        impl ProtocolError {
            $($(#[$doc])* pub const $name: Self = Self($value);)*

            /// The name of a known code, without libzmq's
            /// `ZMQ_PROTOCOL_ERROR_` prefix.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some(stringify!($name)),)*
                    _ => None,
                }
            }
        }
    };
}

protocol_errors! {
    /// An unspecified ZMTP error.
    ZMTP_UNSPECIFIED = 0x1000_0000;
    /// A command that was not expected at that point.
    ZMTP_UNEXPECTED_COMMAND = 0x1000_0001;
    /// A command sequence that is not valid.
    ZMTP_INVALID_SEQUENCE = 0x1000_0002;
    /// The key exchange failed.
    ZMTP_KEY_EXCHANGE = 0x1000_0003;
    /// A malformed command.
    ZMTP_MALFORMED_COMMAND_UNSPECIFIED = 0x1000_0011;
    /// A malformed MESSAGE command.
    ZMTP_MALFORMED_COMMAND_MESSAGE = 0x1000_0012;
    /// A malformed HELLO command.
    ZMTP_MALFORMED_COMMAND_HELLO = 0x1000_0013;
    /// A malformed INITIATE command.
    ZMTP_MALFORMED_COMMAND_INITIATE = 0x1000_0014;
    /// A malformed ERROR command.
    ZMTP_MALFORMED_COMMAND_ERROR = 0x1000_0015;
    /// A malformed READY command.
    ZMTP_MALFORMED_COMMAND_READY = 0x1000_0016;
    /// A malformed WELCOME command.
    ZMTP_MALFORMED_COMMAND_WELCOME = 0x1000_0017;
    /// Metadata that is not valid.
    ZMTP_INVALID_METADATA = 0x1000_0018;
    /// A cryptographic failure (CURVE).
    ZMTP_CRYPTOGRAPHIC = 0x1100_0001;
    /// The peer uses another security mechanism.
    ZMTP_MECHANISM_MISMATCH = 0x1100_0002;
    /// An unspecified error in the ZAP exchange.
    ZAP_UNSPECIFIED = 0x2000_0000;
    /// The ZAP handler's reply was malformed.
    ZAP_MALFORMED_REPLY = 0x2000_0001;
    /// The ZAP reply was for another request.
    ZAP_BAD_REQUEST_ID = 0x2000_0002;
    /// The ZAP reply had a version other than 1.0.
    ZAP_BAD_VERSION = 0x2000_0003;
    /// The ZAP reply's status code is not 200, 300, 400 or 500.
    ZAP_INVALID_STATUS_CODE = 0x2000_0004;
    /// The ZAP reply's metadata was not valid.
    ZAP_INVALID_METADATA = 0x2000_0005;
    /// An unspecified WebSocket error.
    WS_UNSPECIFIED = 0x3000_0000;
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name} ({:#010x})", self.0),
            None => write!(f, "unknown protocol error {:#010x}", self.0),
        }
    }
}

// ---------------------------------------------------------------------------
// Events

/// One socket-monitor event, with its value and the endpoint it concerns.
///
/// The endpoint is what libzmq names: for a connecting socket the address
/// it connects to, for a bound socket the address it is bound to (so an
/// [`Accepted`](Self::Accepted) names our endpoint, not the peer's). libzmq
/// reports nothing for `inproc://` endpoints.
///
/// ```
/// use tx0mq_connections::{MonitorEvent, MonitorEvents};
///
/// let event = MonitorEvent::from_raw(0x0020, 12, "tcp://127.0.0.1:5555");
/// assert_eq!(event, MonitorEvent::Accepted { endpoint: "tcp://127.0.0.1:5555".into(), fd: 12 });
/// assert_eq!(event.kind(), MonitorEvents::ACCEPTED);
/// assert_eq!(event.to_string(), "accepted a connection on tcp://127.0.0.1:5555 (fd 12)");
///
/// // As libzmq sends it: [event id and value, endpoint].
/// let mut head = 0x0200u16.to_ne_bytes().to_vec();
/// head.extend_from_slice(&12u32.to_ne_bytes());
/// let event = MonitorEvent::parse(&[head, b"tcp://127.0.0.1:5555".to_vec()])?;
/// assert_eq!(event, MonitorEvent::Disconnected { endpoint: "tcp://127.0.0.1:5555".into(), fd: 12 });
/// # Ok::<(), tx0mq_connections::MalformedEvent>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MonitorEvent {
    /// A connect succeeded at the TCP level (the ZMTP handshake follows).
    Connected {
        /// The address connected to.
        endpoint: String,
        /// The new connection's descriptor.
        fd: RawFd,
    },
    /// A connect is in progress (libzmq reports `EINPROGRESS`).
    ConnectDelayed {
        /// The address being connected to.
        endpoint: String,
        /// What the non-blocking connect returned.
        errno: Errno,
    },
    /// A connect failed or a connection ended; libzmq tries again after
    /// `interval`.
    ConnectRetried {
        /// The address to connect to again.
        endpoint: String,
        /// When the next attempt is made.
        interval: Duration,
    },
    /// A bind succeeded.
    Listening {
        /// The address bound.
        endpoint: String,
        /// The listening descriptor.
        fd: RawFd,
    },
    /// A bind failed (the bind itself also fails with an error).
    BindFailed {
        /// The address, as libzmq names it (libzmq 4.3 leaves out the
        /// `tcp://`).
        endpoint: String,
        /// Why.
        errno: Errno,
    },
    /// A peer connected to a bound endpoint.
    Accepted {
        /// Our bound address the peer connected to.
        endpoint: String,
        /// The new connection's descriptor.
        fd: RawFd,
    },
    /// Accepting a peer failed.
    AcceptFailed {
        /// Our bound address.
        endpoint: String,
        /// Why.
        errno: Errno,
    },
    /// A descriptor was closed: a listener unbound, or a connect attempt
    /// given up before a retry.
    Closed {
        /// The address it served (may be empty).
        endpoint: String,
        /// The descriptor.
        fd: RawFd,
    },
    /// Closing a descriptor failed.
    CloseFailed {
        /// The address it served.
        endpoint: String,
        /// Why.
        errno: Errno,
    },
    /// A peer's connection ended (it went away, or its handshake failed).
    Disconnected {
        /// The address (connected to, or bound and accepted on).
        endpoint: String,
        /// The descriptor of the connection that ended.
        fd: RawFd,
    },
    /// The monitor stopped: the last event it sends.
    MonitorStopped {
        /// Empty: the monitor concerns no endpoint.
        endpoint: String,
    },
    /// A ZMTP handshake (and its authentication, if any) succeeded.
    HandshakeSucceeded {
        /// The address.
        endpoint: String,
    },
    /// A handshake ended without a protocol or authentication error: the
    /// peer closed the connection, or sent what cannot be a ZMTP greeting.
    HandshakeFailedNoDetail {
        /// The address.
        endpoint: String,
        /// The error the connection ended with (often `ECONNRESET`).
        errno: Errno,
    },
    /// A handshake broke the ZMTP protocol.
    HandshakeFailedProtocol {
        /// The address.
        endpoint: String,
        /// The protocol error.
        error: ProtocolError,
    },
    /// Authentication refused the peer (ZAP, or the server's refusal as
    /// the client hears it).
    HandshakeFailedAuth {
        /// The address.
        endpoint: String,
        /// The ZAP status code: 300 (temporary error), 400 (refused), 500
        /// (internal error).
        status: u32,
    },
    /// An event this version does not know (a later libzmq's).
    Unknown {
        /// The address.
        endpoint: String,
        /// libzmq's event id.
        event: u16,
        /// The event's value.
        value: u32,
    },
}

/// A message on the monitor socket that is not a monitor event: what
/// [`MonitorEvent::parse`] refuses, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MalformedEvent {
    reason: String,
}

impl MalformedEvent {
    /// What the message was and why it is not an event.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for MalformedEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for MalformedEvent {}

impl MonitorEvent {
    /// The event libzmq reports as `event` with `value` on `endpoint`;
    /// an id it does not know becomes [`Unknown`](Self::Unknown). Total:
    /// every input makes an event.
    pub fn from_raw(event: u16, value: u32, endpoint: impl Into<String>) -> Self {
        let endpoint = endpoint.into();
        // libzmq sends descriptors and errno values as unsigned 32 bits.
        let fd = value as RawFd;
        let errno = Errno(value as i32);
        match MonitorEvents(event) {
            MonitorEvents::CONNECTED => Self::Connected { endpoint, fd },
            MonitorEvents::CONNECT_DELAYED => Self::ConnectDelayed { endpoint, errno },
            MonitorEvents::CONNECT_RETRIED => Self::ConnectRetried {
                endpoint,
                interval: Duration::from_millis(u64::from(value)),
            },
            MonitorEvents::LISTENING => Self::Listening { endpoint, fd },
            MonitorEvents::BIND_FAILED => Self::BindFailed { endpoint, errno },
            MonitorEvents::ACCEPTED => Self::Accepted { endpoint, fd },
            MonitorEvents::ACCEPT_FAILED => Self::AcceptFailed { endpoint, errno },
            MonitorEvents::CLOSED => Self::Closed { endpoint, fd },
            MonitorEvents::CLOSE_FAILED => Self::CloseFailed { endpoint, errno },
            MonitorEvents::DISCONNECTED => Self::Disconnected { endpoint, fd },
            MonitorEvents::MONITOR_STOPPED if value == 0 => Self::MonitorStopped { endpoint },
            MonitorEvents::HANDSHAKE_SUCCEEDED if value == 0 => {
                Self::HandshakeSucceeded { endpoint }
            }
            MonitorEvents::HANDSHAKE_FAILED_NO_DETAIL => {
                Self::HandshakeFailedNoDetail { endpoint, errno }
            }
            MonitorEvents::HANDSHAKE_FAILED_PROTOCOL => Self::HandshakeFailedProtocol {
                endpoint,
                error: ProtocolError(value),
            },
            MonitorEvents::HANDSHAKE_FAILED_AUTH => Self::HandshakeFailedAuth {
                endpoint,
                status: value,
            },
            // Including the two above with a value libzmq never sends: the
            // value is kept.
            _ => Self::Unknown {
                endpoint,
                event,
                value,
            },
        }
    }

    /// Decodes one message from a monitor socket: two frames, the first
    /// six bytes (the event id in 16 bits, then its value in 32, in the
    /// machine's byte order), the second the endpoint. What libzmq's
    /// `zmq_socket_monitor` sends, and pyzmq's `parse_monitor_message`
    /// reads; for a monitor socket of your own.
    ///
    /// # Errors
    ///
    /// [`MalformedEvent`] for any other shape, naming what was wrong.
    pub fn parse<F: Deref<Target = [u8]>>(
        frames: &[F],
    ) -> std::result::Result<Self, MalformedEvent> {
        let malformed = |reason: String| Err(MalformedEvent { reason });
        if frames.len() != 2 {
            return malformed(format!(
                "a {}-frame message on the monitor socket; an event has 2 frames \
                 [event and value, endpoint]",
                frames.len()
            ));
        }
        let head: &[u8] = &frames[0];
        let Ok(head) = <[u8; 6]>::try_from(head) else {
            return malformed(format!(
                "a monitor event whose first frame has {} byte(s), not 6",
                head.len()
            ));
        };
        let event = u16::from_ne_bytes([head[0], head[1]]);
        let value = u32::from_ne_bytes([head[2], head[3], head[4], head[5]]);
        let endpoint = String::from_utf8_lossy(&frames[1]).into_owned();
        Ok(Self::from_raw(event, value, endpoint))
    }

    /// The endpoint the event concerns (empty for
    /// [`MonitorStopped`](Self::MonitorStopped)).
    pub fn endpoint(&self) -> &str {
        match self {
            Self::Connected { endpoint, .. }
            | Self::ConnectDelayed { endpoint, .. }
            | Self::ConnectRetried { endpoint, .. }
            | Self::Listening { endpoint, .. }
            | Self::BindFailed { endpoint, .. }
            | Self::Accepted { endpoint, .. }
            | Self::AcceptFailed { endpoint, .. }
            | Self::Closed { endpoint, .. }
            | Self::CloseFailed { endpoint, .. }
            | Self::Disconnected { endpoint, .. }
            | Self::MonitorStopped { endpoint }
            | Self::HandshakeSucceeded { endpoint }
            | Self::HandshakeFailedNoDetail { endpoint, .. }
            | Self::HandshakeFailedProtocol { endpoint, .. }
            | Self::HandshakeFailedAuth { endpoint, .. }
            | Self::Unknown { endpoint, .. } => endpoint,
        }
    }

    /// libzmq's event id (`ZMQ_EVENT_*`).
    pub fn id(&self) -> u16 {
        self.kind().bits()
    }

    /// The kind of event, as a one-kind [`MonitorEvents`].
    pub fn kind(&self) -> MonitorEvents {
        match self {
            Self::Connected { .. } => MonitorEvents::CONNECTED,
            Self::ConnectDelayed { .. } => MonitorEvents::CONNECT_DELAYED,
            Self::ConnectRetried { .. } => MonitorEvents::CONNECT_RETRIED,
            Self::Listening { .. } => MonitorEvents::LISTENING,
            Self::BindFailed { .. } => MonitorEvents::BIND_FAILED,
            Self::Accepted { .. } => MonitorEvents::ACCEPTED,
            Self::AcceptFailed { .. } => MonitorEvents::ACCEPT_FAILED,
            Self::Closed { .. } => MonitorEvents::CLOSED,
            Self::CloseFailed { .. } => MonitorEvents::CLOSE_FAILED,
            Self::Disconnected { .. } => MonitorEvents::DISCONNECTED,
            Self::MonitorStopped { .. } => MonitorEvents::MONITOR_STOPPED,
            Self::HandshakeSucceeded { .. } => MonitorEvents::HANDSHAKE_SUCCEEDED,
            Self::HandshakeFailedNoDetail { .. } => MonitorEvents::HANDSHAKE_FAILED_NO_DETAIL,
            Self::HandshakeFailedProtocol { .. } => MonitorEvents::HANDSHAKE_FAILED_PROTOCOL,
            Self::HandshakeFailedAuth { .. } => MonitorEvents::HANDSHAKE_FAILED_AUTH,
            Self::Unknown { event, .. } => MonitorEvents(*event),
        }
    }

    /// The event's value as libzmq sent it: the descriptor, errno,
    /// interval in milliseconds, protocol error or status code; 0 for
    /// `MonitorStopped` and `HandshakeSucceeded`.
    pub fn value(&self) -> u32 {
        match self {
            Self::Connected { fd, .. }
            | Self::Listening { fd, .. }
            | Self::Accepted { fd, .. }
            | Self::Closed { fd, .. }
            | Self::Disconnected { fd, .. } => *fd as u32,
            Self::ConnectDelayed { errno, .. }
            | Self::BindFailed { errno, .. }
            | Self::AcceptFailed { errno, .. }
            | Self::CloseFailed { errno, .. }
            | Self::HandshakeFailedNoDetail { errno, .. } => errno.0 as u32,
            Self::ConnectRetried { interval, .. } => {
                u32::try_from(interval.as_millis()).unwrap_or(u32::MAX)
            }
            Self::MonitorStopped { .. } | Self::HandshakeSucceeded { .. } => 0,
            Self::HandshakeFailedProtocol { error, .. } => error.0,
            Self::HandshakeFailedAuth { status, .. } => *status,
            Self::Unknown { value, .. } => *value,
        }
    }

    /// libzmq's name of the event without its `ZMQ_EVENT_` prefix
    /// (`"CONNECTED"`), or `"UNKNOWN"`.
    pub fn name(&self) -> &'static str {
        self.kind().name().unwrap_or("UNKNOWN")
    }

    /// Whether it is one of the three handshake failures.
    pub fn is_handshake_failure(&self) -> bool {
        matches!(
            self,
            Self::HandshakeFailedNoDetail { .. }
                | Self::HandshakeFailedProtocol { .. }
                | Self::HandshakeFailedAuth { .. }
        )
    }
}

/// The endpoint, or a word in its place when libzmq gave none.
struct Where<'a>(&'a str);

impl fmt::Display for Where<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("(no endpoint)")
        } else {
            f.write_str(self.0)
        }
    }
}

/// One line, e.g. `connected to tcp://127.0.0.1:5555 (fd 12)` or
/// `handshake with tcp://127.0.0.1:5555 failed: authentication refused (ZAP status 400)`.
impl fmt::Display for MonitorEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = Where(self.endpoint());
        match self {
            Self::Connected { fd, .. } => write!(f, "connected to {at} (fd {fd})"),
            Self::ConnectDelayed { errno, .. } => {
                write!(f, "connecting to {at}: in progress ({errno})")
            }
            Self::ConnectRetried { interval, .. } => {
                write!(f, "connecting to {at} again in {} ms", interval.as_millis())
            }
            Self::Listening { fd, .. } => write!(f, "listening on {at} (fd {fd})"),
            Self::BindFailed { errno, .. } => write!(f, "binding {at} failed: {errno}"),
            Self::Accepted { fd, .. } => write!(f, "accepted a connection on {at} (fd {fd})"),
            Self::AcceptFailed { errno, .. } => {
                write!(f, "accepting a connection on {at} failed: {errno}")
            }
            Self::Closed { fd, .. } => write!(f, "closed {at} (fd {fd})"),
            Self::CloseFailed { errno, .. } => write!(f, "closing {at} failed: {errno}"),
            Self::Disconnected { fd, .. } => write!(f, "disconnected from {at} (fd {fd})"),
            Self::MonitorStopped { .. } => f.write_str("monitor stopped"),
            Self::HandshakeSucceeded { .. } => write!(f, "handshake with {at} succeeded"),
            Self::HandshakeFailedNoDetail { errno, .. } => {
                write!(f, "handshake with {at} failed: {errno}")
            }
            Self::HandshakeFailedProtocol { error, .. } => {
                write!(f, "handshake with {at} failed: protocol error {error}")
            }
            Self::HandshakeFailedAuth { status, .. } => write!(
                f,
                "handshake with {at} failed: authentication refused (ZAP status {status})"
            ),
            Self::Unknown { event, value, .. } => {
                write!(f, "unknown event {event:#06x} with value {value} on {at}")
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The reader: the monitor socket as a connection of its own

/// The pattern of the PAIR that reads a monitor: each message is one event.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct MonitorReader;

impl Pattern for MonitorReader {
    type Event = MonitorEvent;

    fn socket_type(&self) -> zmq::SocketType {
        zmq::PAIR
    }

    fn decode(&self, message: Multipart) -> Decoded<MonitorEvent> {
        match MonitorEvent::parse(&message) {
            Ok(event) => Decoded::Event(event),
            Err(malformed) => Decoded::Malformed(malformed.reason),
        }
    }
}

/// The reader's listener: hands each event to the monitored connection.
struct Forward<S: 'static> {
    data: Weak<Core<S>>,
}

impl<S: 'static> Listener<MonitorReader, S> for Forward<S> {
    fn received(
        &mut self,
        cx: &mut ZmqCtx<'_, S, Connection<MonitorReader, S>>,
        event: MonitorEvent,
    ) {
        let Some(data) = self.data.upgrade() else {
            return;
        };
        data.monitor
            .inbox
            .borrow_mut()
            .push_back(Inboxed::both(event));
        pump(&data, &mut cx.ctx());
    }
}

// ---------------------------------------------------------------------------
// The monitored connection's side

/// A type-erased `on_monitor` closure: it builds the connection's view.
type MonitorFn<S> = dyn FnMut(&mut Ctx<'_, S>, &Rc<Core<S>>, &MonitorEvent);

/// The monitor of one connection, kept in its core: the reader (while
/// monitoring), the events read and not yet delivered, and the closure.
pub(crate) struct MonitorSlot<S: 'static> {
    link: RefCell<Option<Link<S>>>,
    inbox: RefCell<VecDeque<Inboxed>>,
    pumping: Cell<bool>,
    closure: RefCell<ClosureSlot<S>>,
}

struct Link<S: 'static> {
    reader: Rc<Core<S>>,
    endpoint: String,
    events: MonitorEvents,
}

/// An event waiting to be delivered; the protocol's share of it is taken
/// over by shutdown (delivered before `connection_lost`).
struct Inboxed {
    event: MonitorEvent,
    to_protocol: bool,
}

impl Inboxed {
    fn both(event: MonitorEvent) -> Self {
        Inboxed {
            event,
            to_protocol: true,
        }
    }
}

struct ClosureSlot<S: 'static> {
    serial: u64,
    f: Option<Box<MonitorFn<S>>>,
}

impl<S: 'static> Default for MonitorSlot<S> {
    fn default() -> Self {
        MonitorSlot {
            link: RefCell::new(None),
            inbox: RefCell::new(VecDeque::new()),
            pumping: Cell::new(false),
            closure: RefCell::new(ClosureSlot { serial: 0, f: None }),
        }
    }
}

/// Endpoints of monitors: unique in the process, so in every context.
static NEXT_MONITOR: AtomicU64 = AtomicU64::new(0);

impl<S: 'static> MonitorSlot<S> {
    fn events(&self) -> Option<MonitorEvents> {
        self.link.borrow().as_ref().map(|l| l.events)
    }

    /// Whether anything waits for the closure.
    fn pending(&self) -> bool {
        !self.inbox.borrow().is_empty()
    }
}

/// Starts monitoring `data` for `events`, replacing a monitor it has.
fn start<S: 'static>(data: &Rc<Core<S>>, events: MonitorEvents) -> Result<()> {
    // Refused when closed, and on a fake connection (no socket).
    data.with_socket("monitor", |_| ())?;
    if data.monitor.events() == Some(events) {
        return Ok(());
    }
    stop(data);
    let factory = data.factory().ok_or_else(|| Error::Closed {
        operation: "monitor",
        connection: data.describe(),
    })?;
    let n = NEXT_MONITOR.fetch_add(1, Ordering::Relaxed);
    let endpoint = format!("inproc://tx0mq.monitor.{n}");
    // The reader connects first (inproc allows it): libzmq's monitor socket
    // then has its reader from the moment it exists, so libzmq never waits
    // to write an event. No receive limit: libzmq must never wait for us.
    let options = ZmqOptions::new().rcvhwm(0).linger(Duration::ZERO);
    let reader = Core::open_detached(
        &factory,
        zmq::PAIR,
        Refused::Queue,
        &[ZmqEndpoint::connect(&endpoint)],
        &options,
        format!("monitor of the {}", data.describe()),
    )?;
    let started = data.with_socket("monitor", |s| s.monitor(&endpoint, i32::from(events.0)));
    let failure = match started {
        Ok(Ok(())) => None,
        Ok(Err(source)) => Some(Error::Socket {
            context: format!("start the monitor of the {}", data.describe()),
            source,
        }),
        Err(e) => Some(e),
    };
    if let Some(e) = failure {
        reader.shutdown_in(None, LostReason::Shutdown);
        return Err(e);
    }
    let reader_conn = Connection {
        core: reader.clone(),
        pattern: MonitorReader,
    };
    if let Err(e) = reader_conn.set_listener(Forward {
        data: Rc::downgrade(data),
    }) {
        log::error!("{}: {e}", data.describe());
    }
    *data.monitor.link.borrow_mut() = Some(Link {
        reader,
        endpoint,
        events,
    });
    Ok(())
}

/// Stops libzmq's monitor of `data`, reads every event it had written into
/// the inbox, and closes the reader. Calls no user code. Returns whether
/// there was a monitor.
fn stop<S: 'static>(data: &Core<S>) -> bool {
    let Some(link) = data.monitor.link.borrow_mut().take() else {
        return false;
    };
    silence(data, &link);
    drain(&link.reader, &data.monitor.inbox);
    link.reader.shutdown_in(None, LostReason::Shutdown);
    true
}

/// Tells libzmq to stop writing to the monitor. `zmq_socket_monitor` with
/// no endpoint would, but rust-zmq always passes one; a new monitor with no
/// events does the same: libzmq stops the old one first (writing its
/// `MONITOR_STOPPED` if that was asked for) and the new one never writes.
fn silence<S: 'static>(data: &Core<S>, link: &Link<S>) {
    let quiet = format!("{}.stopped", link.endpoint);
    match data.with_socket("stop the monitor", |s| s.monitor(&quiet, 0)) {
        Ok(Ok(())) => {}
        // A terminated context has stopped every monitor itself.
        Ok(Err(zmq::Error::ETERM)) => {}
        Ok(Err(e)) => log::error!("{}: cannot stop its monitor: {e}", data.describe()),
        // Closed or fake: no libzmq monitor to stop.
        Err(_) => {}
    }
}

/// Reads what the reader holds, to the end: libzmq writes nothing more
/// once the monitor is stopped, so the end is reached. Malformed messages
/// are logged as the reader logs them and skipped.
fn drain<S: 'static>(reader: &Core<S>, inbox: &RefCell<VecDeque<Inboxed>>) {
    let outcome = reader.with_socket("read the monitor", |s| loop {
        match s.recv_multipart(zmq::DONTWAIT) {
            Ok(frames) => match MonitorEvent::parse(&frames) {
                Ok(event) => inbox.borrow_mut().push_back(Inboxed::both(event)),
                Err(malformed) => reader.dropped_malformed(malformed.reason()),
            },
            // A shut-down context: libzmq stopped the monitor itself, and
            // what it wrote cannot be read any more.
            Err(zmq::Error::EAGAIN | zmq::Error::ETERM) => return Ok(()),
            Err(e) => return Err(e),
        }
    });
    if let Ok(Err(e)) = outcome {
        log::error!("{}: reading its last events failed: {e}", reader.describe());
    }
}

/// Delivers the inbox, oldest first: each event to the protocol (unless
/// shutdown took that share), then to the closure. Reentrant calls (a
/// callback that stops the monitor, whose last events join the inbox)
/// return at once: the running pump delivers what they added.
pub(crate) fn pump<S: 'static>(data: &Rc<Core<S>>, cx: &mut Ctx<'_, S>) {
    let slot = &data.monitor;
    if slot.pumping.replace(true) {
        return;
    }
    let _pumping = Pumping { data };
    loop {
        let next = slot.inbox.borrow_mut().pop_front();
        let Some(Inboxed { event, to_protocol }) = next else {
            break;
        };
        if to_protocol {
            data.deliver_monitor(cx, &event);
        }
        call_closure(data, cx, &event);
    }
    if data.is_closed() {
        // Its last events are delivered: the closure goes (it may hold a
        // handle of the connection).
        let closure = slot.closure.borrow_mut().f.take();
        drop(closure);
    }
}

/// Marks the pump as running; if a callback panics through it, the events
/// still waiting are delivered on the next pass.
struct Pumping<'a, S: 'static> {
    data: &'a Rc<Core<S>>,
}

impl<S: 'static> Drop for Pumping<'_, S> {
    fn drop(&mut self) {
        self.data.monitor.pumping.set(false);
        if std::thread::panicking() && self.data.monitor.pending() {
            pump_soon(self.data);
        }
    }
}

/// Delivers the inbox now if the reactor's state is free, else on the
/// next pass.
fn pump_soon<S: 'static>(data: &Rc<Core<S>>) {
    if !data.monitor.pending() {
        return;
    }
    let Some(reactor) = data.reactor() else {
        return;
    };
    if reactor.with_ctx(|cx| pump(data, cx)).is_err() {
        let weak = Rc::downgrade(data);
        reactor.call_later(Duration::ZERO, move |cx| {
            if let Some(data) = weak.upgrade() {
                pump(&data, cx);
            }
        });
    }
}

/// Calls the `on_monitor` closure, taken out of its slot meanwhile.
fn call_closure<S: 'static>(data: &Rc<Core<S>>, cx: &mut Ctx<'_, S>, event: &MonitorEvent) {
    let (f, serial) = {
        let mut slot = data.monitor.closure.borrow_mut();
        match slot.f.take() {
            Some(f) => (f, slot.serial),
            None => return,
        }
    };
    let mut taken = TakenClosure {
        data,
        f: Some(f),
        serial,
    };
    if let Some(f) = taken.f.as_mut() {
        f(cx, data, event);
    }
}

/// A closure out of its slot for a call: put back when the call ends,
/// by return or by panic, unless another was set meanwhile.
struct TakenClosure<'a, S: 'static> {
    data: &'a Rc<Core<S>>,
    f: Option<Box<MonitorFn<S>>>,
    serial: u64,
}

impl<S: 'static> Drop for TakenClosure<'_, S> {
    fn drop(&mut self) {
        let Some(f) = self.f.take() else {
            return;
        };
        if std::thread::panicking() {
            log::error!(
                "{}: its on_monitor closure panicked; monitoring carries on",
                self.data.describe()
            );
        }
        let leftover = {
            let mut slot = self.data.monitor.closure.borrow_mut();
            if slot.serial == self.serial && slot.f.is_none() {
                slot.f = Some(f);
                None
            } else {
                Some(f)
            }
        };
        drop(leftover); // outside the borrow
    }
}

/// At shutdown (before the socket closes): stops the monitor and reads its
/// last events. Returns the events the protocol has yet to hear, which it
/// hears before `connection_lost`; the closure gets its share from the
/// inbox (see [`pump`]). Calls no user code.
pub(crate) fn shut<S: 'static>(data: &Core<S>) -> Vec<MonitorEvent> {
    stop(data);
    let mut inbox = data.monitor.inbox.borrow_mut();
    inbox
        .iter_mut()
        .filter_map(|waiting| {
            std::mem::replace(&mut waiting.to_protocol, false).then(|| waiting.event.clone())
        })
        .collect()
}

/// Whether shutdown leaves events in the inbox (the closure's share) that
/// no running pump will deliver.
pub(crate) fn undelivered<S: 'static>(data: &Core<S>) -> bool {
    data.monitor.pending() && !data.monitor.pumping.get()
}

/// When a core goes without a shutdown: libzmq must stop writing before
/// the reader closes (see the module docs). The reader goes with the link
/// (as any core dropped, it leaves the reactor first).
pub(crate) fn forget<S: 'static>(data: &Core<S>) {
    let link = data.monitor.link.borrow_mut().take();
    if let Some(link) = link {
        silence(data, &link);
        drop(link);
    }
}

// ---------------------------------------------------------------------------
// The protocol hooks, written once for every protocol trait

/// The monitor hooks of a protocol trait whose connection type is `$conn`
/// (and whose state parameter is `S`): default no-ops.
macro_rules! monitor_hooks {
    ($conn:ty) => {
        /// Any socket-monitor event, once the connection is monitored
        /// ([`Connection::monitor`](crate::Connection::monitor)); called
        /// before the hook that names the event, if there is one.
        fn monitor_event(
            &mut self,
            _cx: &mut $crate::ZmqCtx<'_, S, $conn>,
            _event: &$crate::MonitorEvent,
        ) {
        }
        /// A peer connected: we connected to `endpoint`
        /// ([`MonitorEvent::Connected`](crate::MonitorEvent::Connected)), or
        /// a peer connected to our bound `endpoint`
        /// ([`MonitorEvent::Accepted`](crate::MonitorEvent::Accepted)). At
        /// the TCP level: the ZMTP handshake follows. Heard only while the
        /// connection is monitored.
        fn peer_connected(&mut self, _cx: &mut $crate::ZmqCtx<'_, S, $conn>, _endpoint: &str) {}
        /// A peer's connection to or from `endpoint` ended
        /// ([`MonitorEvent::Disconnected`](crate::MonitorEvent::Disconnected)):
        /// it went away or failed its handshake. A connecting socket
        /// reconnects by itself. Heard only while the connection is
        /// monitored.
        fn peer_disconnected(&mut self, _cx: &mut $crate::ZmqCtx<'_, S, $conn>, _endpoint: &str) {}
        /// A peer's handshake failed: it spoke no ZMTP, broke the protocol,
        /// or authentication refused it (`event` says which, see
        /// [`MonitorEvent::is_handshake_failure`](crate::MonitorEvent::is_handshake_failure));
        /// `peer_disconnected` follows. Heard only while the connection is
        /// monitored.
        fn handshake_failed(
            &mut self,
            _cx: &mut $crate::ZmqCtx<'_, S, $conn>,
            _event: &$crate::MonitorEvent,
        ) {
        }
    };
}
pub(crate) use monitor_hooks;

/// The monitor hooks of `Protocol<K, S>` for a type implementing the
/// pattern's protocol trait `$trait`, forwarded to that trait's.
macro_rules! forward_monitor_hooks {
    ($trait:path, $conn:ty) => {
        fn monitor_event(
            &mut self,
            cx: &mut $crate::ZmqCtx<'_, S, $conn>,
            event: &$crate::MonitorEvent,
        ) {
            <Self as $trait>::monitor_event(self, cx, event);
        }
        fn peer_connected(&mut self, cx: &mut $crate::ZmqCtx<'_, S, $conn>, endpoint: &str) {
            <Self as $trait>::peer_connected(self, cx, endpoint);
        }
        fn peer_disconnected(&mut self, cx: &mut $crate::ZmqCtx<'_, S, $conn>, endpoint: &str) {
            <Self as $trait>::peer_disconnected(self, cx, endpoint);
        }
        fn handshake_failed(
            &mut self,
            cx: &mut $crate::ZmqCtx<'_, S, $conn>,
            event: &$crate::MonitorEvent,
        ) {
            <Self as $trait>::handshake_failed(self, cx, event);
        }
    };
}
pub(crate) use forward_monitor_hooks;

// ---------------------------------------------------------------------------
// The API

impl<K: Pattern, S: 'static> Connection<K, S> {
    /// Starts monitoring every event of this connection's socket (libzmq's
    /// `zmq_socket_monitor` with `ZMQ_EVENT_ALL`): who connects, goes away
    /// or fails its handshake. The events reach the protocol's hooks
    /// ([`peer_connected`](crate::Protocol::peer_connected), ...) and the
    /// [`on_monitor`](Self::on_monitor) closure. See
    /// [`monitor_events`](Self::monitor_events).
    ///
    /// ```
    /// use tx0mq_connections::{MonitorEvent, ZmqEndpoint, ZmqFactory, ZmqPullConnection, ZmqPushConnection};
    /// use tx0mq_reactor::Reactor;
    ///
    /// let reactor = Reactor::builder().state(Vec::new()).handle_signals(false).build()?;
    /// let factory = ZmqFactory::new(&reactor)?;
    /// let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind("tcp://127.0.0.1:*"))?;
    /// pull.monitor()?;
    /// pull.on_monitor(|cx, event| {
    ///     if let MonitorEvent::Accepted { .. } = event {
    ///         cx.state.push(event.to_string());
    ///         cx.reactor.stop()?;
    ///     }
    ///     Ok::<(), tx0mq_reactor::Error>(())
    /// });
    /// let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect(pull.last_endpoint()?))?;
    /// reactor.run()?;
    /// let seen = reactor.access_state(|seen| seen.clone())?;
    /// assert!(seen[0].starts_with("accepted a connection on tcp://127.0.0.1:"), "{seen:?}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`monitor_events`](Self::monitor_events).
    pub fn monitor(&self) -> Result<()> {
        self.monitor_events(MonitorEvents::ALL)
    }

    /// Starts monitoring the events in `events`
    /// (`MonitorEvents::CONNECTED | MonitorEvents::DISCONNECTED`, ...).
    /// A monitor already running with other events is stopped first (its
    /// last events, `MonitorStopped` among them if it was asked for, are
    /// delivered); with the same events, nothing changes.
    ///
    /// Events happen as from this call: to see the `Listening` of a bind,
    /// create the connection with no endpoint, monitor it, then
    /// [`add_endpoints`](Self::add_endpoints). libzmq reports nothing for
    /// `inproc://` endpoints.
    ///
    /// The monitor is read through a PAIR socket in the factory's context
    /// (one more descriptor in the reactor); it stops with
    /// [`stop_monitor`](Self::stop_monitor) or shutdown, which deliver the
    /// last events libzmq wrote.
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown (or once the factory is shut down);
    /// `Error::Socket` if libzmq refuses, or on a fake connection
    /// ([`testing`](crate::testing)), which has no socket to monitor.
    pub fn monitor_events(&self, events: MonitorEvents) -> Result<()> {
        let started = start(&self.core, events);
        pump_soon(&self.core);
        started
    }

    /// Stops monitoring (pyzmq's `disable_monitor`). The events libzmq had
    /// written are delivered first, and last of them `MonitorStopped` if it
    /// was monitored: now if the reactor's state is free, else on the next
    /// pass. Returns whether a monitor was running.
    pub fn stop_monitor(&self) -> bool {
        let stopped = stop(&self.core);
        pump_soon(&self.core);
        stopped
    }

    /// The events being monitored, if a monitor is running.
    pub fn monitored_events(&self) -> Option<MonitorEvents> {
        self.core.monitor.events()
    }

    /// Sets the closure that hears every monitor event, replacing any other
    /// (CZMQ's `zmonitor` actor, pyzmq's `recv_monitor_message` loop, as a
    /// callback). It runs after the protocol's hooks for the same event,
    /// and stays when the protocol is replaced. It may return `()` or a
    /// `Result`, whose error is logged. Setting it does not start
    /// monitoring: see [`monitor`](Self::monitor).
    ///
    /// ```
    /// use tx0mq_connections::{MonitorEvent, ZmqEndpoint, ZmqFactory, ZmqPushConnection};
    /// use tx0mq_reactor::Reactor;
    ///
    /// let reactor = Reactor::builder().handle_signals(false).build()?;
    /// let factory = ZmqFactory::new(&reactor)?;
    /// let push = ZmqPushConnection::new(&factory, Vec::new())?;
    /// push.monitor()?;
    /// push.on_monitor(|cx, event| {
    ///     println!("{event}");
    ///     if let MonitorEvent::ConnectRetried { .. } = event {
    ///         cx.reactor.stop()?; // nobody listens there
    ///     }
    ///     Ok::<(), tx0mq_reactor::Error>(())
    /// });
    /// push.add_endpoints(ZmqEndpoint::connect("tcp://127.0.0.1:1"))?;
    /// reactor.run()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn on_monitor<F, R>(&self, mut f: F)
    where
        F: FnMut(&mut ZmqCtx<'_, S, Connection<K, S>>, &MonitorEvent) -> R + 'static,
        R: CallbackResult,
    {
        let pattern = self.pattern.clone();
        let erased = move |cx: &mut Ctx<'_, S>, core: &Rc<Core<S>>, event: &MonitorEvent| {
            let conn = Connection {
                core: core.clone(),
                pattern: pattern.clone(),
            };
            let mut zcx = ZmqCtx {
                reactor: cx.reactor,
                state: &mut *cx.state,
                conn: &conn,
            };
            f(&mut zcx, event).report("on_monitor");
        };
        let old = {
            let mut slot = self.core.monitor.closure.borrow_mut();
            slot.serial += 1;
            slot.f.replace(Box::new(erased))
        };
        drop(old);
    }

    /// Removes the [`on_monitor`](Self::on_monitor) closure.
    pub fn clear_on_monitor(&self) {
        let old = {
            let mut slot = self.core.monitor.closure.borrow_mut();
            slot.serial += 1;
            slot.f.take()
        };
        drop(old);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(event: u16, value: u32) -> Vec<u8> {
        let mut head = event.to_ne_bytes().to_vec();
        head.extend_from_slice(&value.to_ne_bytes());
        head
    }

    #[test]
    fn every_known_id_decodes_to_its_kind_with_its_value() {
        for (kind, name) in MonitorEvents::named() {
            let value = match kind {
                MonitorEvents::MONITOR_STOPPED | MonitorEvents::HANDSHAKE_SUCCEEDED => 0,
                _ => 400,
            };
            let event = MonitorEvent::parse(&[head(kind.bits(), value), b"tcp://a:1".to_vec()])
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(event.kind(), kind, "{name}");
            assert_eq!(event.name(), name);
            assert_eq!(event.value(), value, "{name}");
            assert_eq!(event.endpoint(), "tcp://a:1");
            assert!(!matches!(event, MonitorEvent::Unknown { .. }), "{name}");
        }
    }

    #[test]
    fn shapes_that_are_not_events_are_refused_naming_the_fault() {
        let two_frames: Vec<Vec<u8>> = vec![head(1, 2)];
        let err = MonitorEvent::parse(&two_frames).unwrap_err();
        assert!(err.reason().contains("1-frame"), "{err}");
        let err = MonitorEvent::parse(&[vec![1, 2, 3], Vec::new()]).unwrap_err();
        assert!(err.reason().contains("3 byte(s), not 6"), "{err}");
        let none: [Vec<u8>; 0] = [];
        assert!(MonitorEvent::parse(&none).is_err());
    }

    #[test]
    fn a_value_libzmq_never_sends_with_a_bare_event_is_kept_as_unknown() {
        let event = MonitorEvent::from_raw(0x0400, 7, "");
        assert_eq!(
            event,
            MonitorEvent::Unknown {
                endpoint: String::new(),
                event: 0x0400,
                value: 7
            }
        );
        assert_eq!(event.value(), 7);
    }

    #[test]
    fn events_print_readably() {
        let cases = [
            (0x0001, 9, "tcp://h:1", "connected to tcp://h:1 (fd 9)"),
            (
                0x0002,
                115,
                "tcp://h:1",
                "connecting to tcp://h:1: in progress (EINPROGRESS: Operation in progress)",
            ),
            (
                0x0004,
                250,
                "tcp://h:1",
                "connecting to tcp://h:1 again in 250 ms",
            ),
            (0x0008, 3, "tcp://h:1", "listening on tcp://h:1 (fd 3)"),
            (
                0x0010,
                98,
                "h:1",
                "binding h:1 failed: EADDRINUSE: Address in use",
            ),
            (0x0080, 4, "", "closed (no endpoint) (fd 4)"),
            (0x0200, 5, "tcp://h:1", "disconnected from tcp://h:1 (fd 5)"),
            (0x0400, 0, "", "monitor stopped"),
            (0x1000, 0, "tcp://h:1", "handshake with tcp://h:1 succeeded"),
            (
                0x0800,
                104,
                "tcp://h:1",
                "handshake with tcp://h:1 failed: ECONNRESET: Connection reset by peer",
            ),
            (
                0x2000,
                0x1100_0002,
                "tcp://h:1",
                "handshake with tcp://h:1 failed: protocol error \
                 ZMTP_MECHANISM_MISMATCH (0x11000002)",
            ),
            (
                0x4000,
                400,
                "tcp://h:1",
                "handshake with tcp://h:1 failed: authentication refused (ZAP status 400)",
            ),
            (
                0x8000,
                1,
                "tcp://h:1",
                "unknown event 0x8000 with value 1 on tcp://h:1",
            ),
        ];
        for (id, value, endpoint, text) in cases {
            assert_eq!(
                MonitorEvent::from_raw(id, value, endpoint).to_string(),
                text
            );
        }
    }

    #[test]
    fn event_sets_combine_and_print() {
        let set = MonitorEvents::CONNECTED | MonitorEvents::from_bits(0x8000);
        assert_eq!(format!("{set:?}"), "MonitorEvents(CONNECTED | 0x8000)");
        assert_eq!(format!("{:?}", MonitorEvents::empty()), "MonitorEvents()");
        assert!(MonitorEvents::HANDSHAKE_FAILED.contains(MonitorEvents::HANDSHAKE_FAILED_AUTH));
        assert_eq!(MonitorEvents::HANDSHAKE_FAILED.name(), None);
        assert_eq!(MonitorEvents::LISTENING.name(), Some("LISTENING"));
        let mut all = MonitorEvents::empty();
        for (kind, _) in MonitorEvents::named() {
            all |= kind;
        }
        assert_eq!(all.bits(), 0x7fff);
        assert_eq!(all & MonitorEvents::CLOSED, MonitorEvents::CLOSED);
    }

    /// Messages on the monitor socket that are not events (what a peer
    /// cannot send, but a bug could) are logged, ten in full and then
    /// counted, and skipped: the event after them is delivered.
    #[test]
    fn malformed_event_messages_are_logged_at_a_bounded_rate_and_skipped() {
        use crate::frames::Frame;
        use tx0mq_test_support::log as logs;

        logs::capture();
        let reactor = tx0mq_test_support::reactor::reactor(Vec::<MonitorEvent>::new());
        let (data, _peer) = crate::ZmqPullConnection::fake(&reactor).unwrap();
        data.on_monitor(|cx, event| cx.state.push(event.clone()));
        let (reader, wire) =
            Core::open_fake(&reactor, zmq::PAIR, Refused::Queue, &ZmqOptions::new());
        let reader_conn = Connection {
            core: reader.clone(),
            pattern: MonitorReader,
        };
        reader_conn
            .set_listener(Forward {
                data: Rc::downgrade(&data.core),
            })
            .unwrap();
        for i in 0..15u8 {
            let junk = Multipart::from(vec![Frame::from(vec![i])]);
            wire.inbox.borrow_mut().push_back(junk);
        }
        let event = Multipart::from(vec![
            Frame::from(head(0x0200, 5)),
            Frame::from("tcp://peer:1"),
        ]);
        wire.inbox.borrow_mut().push_back(event);
        for _ in 0..3 {
            reactor.with_ctx(|cx| reader.on_ready(cx)).unwrap();
        }
        assert_eq!(
            reactor.access_state(|seen| seen.clone()).unwrap(),
            [MonitorEvent::Disconnected {
                endpoint: "tcp://peer:1".into(),
                fd: 5
            }]
        );
        let dropped = "dropped a 1-frame message on the monitor socket";
        assert_eq!(
            logs::count(log::Level::Warn, dropped),
            10,
            "{:?}",
            logs::records()
        );
        assert!(logs::contains(
            log::Level::Warn,
            "further malformed messages dropped are counted"
        ));
        reader.shutdown_in(None, LostReason::Shutdown);
        assert!(logs::contains(
            log::Level::Warn,
            "5 more malformed messages dropped"
        ));
    }

    proptest::proptest! {
        /// Arbitrary frames never panic the decoder: they make an event or
        /// a reason, and an event only from two frames of which the first
        /// has six bytes.
        #[test]
        fn arbitrary_frames_decode_or_are_refused(
            frames in proptest::collection::vec(
                proptest::collection::vec(proptest::prelude::any::<u8>(), 0..12), 0..5),
        ) {
            let shaped = frames.len() == 2 && frames[0].len() == 6;
            match MonitorEvent::parse(&frames) {
                Ok(event) => {
                    proptest::prop_assert!(shaped);
                    let _ = event.to_string();
                    let _ = format!("{:?}", event.kind());
                }
                Err(malformed) => {
                    proptest::prop_assert!(!shaped);
                    proptest::prop_assert!(!malformed.reason().is_empty());
                }
            }
        }

        /// What libzmq sends comes back whole: id, value and endpoint
        /// (the two bare events carry no value).
        #[test]
        fn events_keep_their_id_value_and_endpoint(
            id in proptest::prelude::any::<u16>(),
            value in proptest::prelude::any::<u32>(),
            endpoint in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40),
        ) {
            let event = MonitorEvent::parse(&[head(id, value), endpoint.clone()]).unwrap();
            proptest::prop_assert_eq!(event.id(), id);
            proptest::prop_assert_eq!(event.value(), value);
            proptest::prop_assert_eq!(event.endpoint(), String::from_utf8_lossy(&endpoint));
            proptest::prop_assert_eq!(
                MonitorEvent::from_raw(event.id(), event.value(), event.endpoint()),
                event
            );
        }
    }
}
