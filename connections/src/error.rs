//! The connections crate's error type.

use std::fmt;

use crate::endpoint::ZmqEndpoint;

/// Everything that can go wrong in the connections crate.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Binding or connecting an endpoint failed (bad address, unknown
    /// transport, unresolvable host, address in use...).
    Endpoint {
        /// The endpoint that failed.
        endpoint: ZmqEndpoint,
        /// What libzmq said.
        source: zmq::Error,
    },
    /// A socket operation failed; `context` says which and on what connection.
    Socket {
        /// What was being done, naming the connection.
        context: String,
        /// What libzmq said.
        source: zmq::Error,
    },
    /// A socket option was refused.
    Option {
        /// The option's name (`"sndhwm"`, `"curve_server"`...).
        option: &'static str,
        /// The connection it was set on.
        connection: String,
        /// What libzmq said.
        source: zmq::Error,
    },
    /// The connection (or its factory) was shut down; `operation` was refused.
    Closed {
        /// What was attempted (`"send"`, `"subscribe"`...).
        operation: &'static str,
        /// The connection.
        connection: String,
    },
    /// The outbox is full: libzmq refused the message (high-water mark or no
    /// peer) and the outbox is at its message or byte limit. The message was
    /// not sent.
    OutboxFull {
        /// The connection.
        connection: String,
        /// The outbox's message limit.
        limit: usize,
        /// Messages waiting.
        messages: usize,
        /// Bytes waiting (all frames).
        bytes: usize,
        /// The outbox's byte limit.
        byte_limit: usize,
    },
    /// `reply` named a message id that has no request waiting (unknown, or
    /// already answered).
    UnknownMessageId {
        /// The id, as given.
        message_id: Vec<u8>,
    },
    /// An endpoint type that is neither `"bind"` nor `"connect"`.
    EndpointType {
        /// What was given.
        given: String,
    },
    /// A CURVE key that is neither 40 Z85 characters nor 32 raw bytes, or
    /// whose Z85 text does not decode.
    Key {
        /// Where the key came from: the option (`"curve_server"`...) or the
        /// certificate file.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A certificate, key directory or password file that cannot be read,
    /// written or parsed.
    File {
        /// The file or directory.
        path: std::path::PathBuf,
        /// What was being done (`"read the certificate"`...).
        operation: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// CURVE was asked for (an option, a key pair) but the libzmq this
    /// program is linked with was built without it.
    CurveUnavailable {
        /// What needed CURVE (`"curve_server option"`, `"generate a key pair"`).
        what: String,
    },
    /// libzmq would not create another socket: the context holds its most
    /// sockets, or the process is out of file descriptors. `limit` says
    /// which, and how to raise it.
    SocketLimit {
        /// The socket type asked for (`"ROUTER"`...).
        kind: String,
        /// Which limit was reached, with its figure where known.
        limit: String,
    },
    /// A context option ([`ContextBuilder`](crate::ContextBuilder)) out of
    /// range, or refused by libzmq.
    ContextOption {
        /// The option (`"max_sockets"`, `"io_threads"`).
        option: &'static str,
        /// The value given.
        value: i32,
        /// Why it was refused.
        reason: String,
    },
    /// A device ([`Device`](crate::Device)) was given connections it cannot
    /// forward between (a PUSH frontend and a PULL backend, say).
    Device {
        /// What is wrong, naming the connections.
        reason: String,
    },
    /// A reactor error (the reactor was dropped, say).
    Reactor(tx0mq_reactor::Error),
    /// A codec could not encode a value to send (`send_serialized`,
    /// `send_json`); nothing was sent.
    Encode {
        /// The connection it was for.
        connection: String,
        /// What the codec said.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Endpoint { endpoint, source } => write!(
                f,
                "cannot {} {:?}: {source} (check the transport, host, port and that the address is free)",
                endpoint.kind.verb(),
                endpoint.address
            ),
            Error::Socket { context, source } => write!(f, "{context}: {source}"),
            Error::SocketLimit { kind, limit } => write!(f, "cannot create a {kind} socket: {limit}"),
            Error::ContextOption {
                option,
                value,
                reason,
            } => write!(f, "ZeroMQ context option {option} = {value}: {reason}"),
            Error::Option {
                option,
                connection,
                source,
            } => write!(f, "cannot set socket option {option} on {connection}: {source}"),
            Error::Closed {
                operation,
                connection,
            } => write!(f, "cannot {operation}: {connection} has been shut down"),
            Error::OutboxFull {
                connection,
                limit,
                messages,
                bytes,
                byte_limit,
            } => write!(
                f,
                "{connection}: outbox full ({messages} messages, {bytes} bytes waiting for libzmq; \
                 limits {limit} messages, {byte_limit} bytes); the message was not sent. \
                 Slow down, raise the high-water mark or the outbox limits"
            ),
            Error::UnknownMessageId { message_id } => write!(
                f,
                "no request with message id {} is waiting for a reply (unknown or already answered)",
                crate::frames::escape(message_id)
            ),
            Error::EndpointType { given } => write!(
                f,
                "unknown endpoint type {given:?}: expected \"bind\" or \"connect\""
            ),
            Error::Key { what, reason } => write!(f, "bad CURVE key in {what}: {reason}"),
            Error::File {
                path,
                operation,
                reason,
            } => write!(f, "cannot {operation} {}: {reason}", path.display()),
            Error::CurveUnavailable { what } => write!(
                f,
                "{what} needs CURVE, but the libzmq this program is linked with ({}) was built \
                 without it; link a libzmq built with libsodium (see \"Security\" in the README: \
                 `cargo build --config .cargo/system-libzmq.toml` after installing libzmq3-dev)",
                {
                    let (major, minor, patch) = zmq::version();
                    format!("{major}.{minor}.{patch}")
                }
            ),
            Error::Device { reason } => write!(f, "device: {reason}"),
            Error::Reactor(e) => write!(f, "reactor: {e}"),
            Error::Encode { connection, source } => {
                write!(f, "cannot encode a message for {connection}: {source}")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Endpoint { source, .. }
            | Error::Socket { source, .. }
            | Error::Option { source, .. } => Some(source),
            Error::Reactor(e) => Some(e),
            Error::Encode { source, .. } => Some(&**source),
            _ => None,
        }
    }
}

impl From<tx0mq_reactor::Error> for Error {
    fn from(e: tx0mq_reactor::Error) -> Self {
        Error::Reactor(e)
    }
}

/// The connections crate's `Result`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A request sent with `ZmqReqConnection::send_msg` got no reply in time
/// (txZMQ's `ZmqRequestTimeoutError`). Its Deferred fails with this.
/// Fields may be added: read them, do not build one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ZmqRequestTimeoutError {
    /// The request's message id.
    pub message_id: Vec<u8>,
    /// The timeout that ran out.
    pub timeout: std::time::Duration,
}

impl fmt::Display for ZmqRequestTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "request {} got no reply within {:?}",
            crate::frames::escape(&self.message_id),
            self.timeout
        )
    }
}

impl std::error::Error for ZmqRequestTimeoutError {}
