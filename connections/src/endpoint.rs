//! Endpoints: where a connection binds or connects.

use std::fmt;

/// Whether an endpoint binds (listens) or connects (txZMQ's `ZmqEndpointType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ZmqEndpointType {
    /// Listen for peers.
    Bind,
    /// Connect to a peer.
    Connect,
}

/// Parses txZMQ's endpoint type strings, `"bind"` and `"connect"`.
///
/// ```
/// use tx0mq_connections::{ZmqEndpoint, ZmqEndpointType};
///
/// let kind: ZmqEndpointType = "connect".parse()?;
/// assert_eq!(kind, ZmqEndpointType::Connect);
/// let endpoint = ZmqEndpoint::new("bind".parse()?, "tcp://*:5555");
/// assert_eq!(endpoint, ZmqEndpoint::bind("tcp://*:5555"));
/// assert!("listen".parse::<ZmqEndpointType>().is_err());
/// # Ok::<(), tx0mq_connections::Error>(())
/// ```
impl std::str::FromStr for ZmqEndpointType {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "bind" => Ok(ZmqEndpointType::Bind),
            "connect" => Ok(ZmqEndpointType::Connect),
            other => Err(crate::Error::EndpointType {
                given: other.to_string(),
            }),
        }
    }
}

impl ZmqEndpointType {
    pub(crate) fn verb(self) -> &'static str {
        match self {
            ZmqEndpointType::Bind => "bind",
            ZmqEndpointType::Connect => "connect",
        }
    }
}

/// An address and whether to bind or connect it (txZMQ's `ZmqEndpoint`).
///
/// ```
/// use tx0mq_connections::{ZmqEndpoint, ZmqEndpointType};
///
/// let e = ZmqEndpoint::bind("tcp://127.0.0.1:*");
/// assert_eq!(e.kind, ZmqEndpointType::Bind);
/// assert_eq!(e, ZmqEndpoint::new(ZmqEndpointType::Bind, "tcp://127.0.0.1:*"));
/// assert_eq!(e.to_string(), "bind tcp://127.0.0.1:*");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ZmqEndpoint {
    /// Bind or connect.
    pub kind: ZmqEndpointType,
    /// A ZeroMQ address: `tcp://host:port`, `ipc://path`, `inproc://name`...
    pub address: String,
}

impl ZmqEndpoint {
    /// An endpoint of either kind.
    pub fn new(kind: ZmqEndpointType, address: impl Into<String>) -> Self {
        ZmqEndpoint {
            kind,
            address: address.into(),
        }
    }

    /// An endpoint to bind (listen on). `tcp://127.0.0.1:*` picks a free port;
    /// read it back with `last_endpoint`.
    pub fn bind(address: impl Into<String>) -> Self {
        Self::new(ZmqEndpointType::Bind, address)
    }

    /// An endpoint to connect to.
    pub fn connect(address: impl Into<String>) -> Self {
        Self::new(ZmqEndpointType::Connect, address)
    }

    /// For `tcp://` and `udp://` addresses: whether the port (after the last
    /// `:`) is `*`, or a number libzmq will take as given (0 to 65535).
    /// Other transports, and addresses with no port, are left to libzmq.
    pub(crate) fn port_in_range(&self) -> bool {
        let Some(rest) = self
            .address
            .strip_prefix("tcp://")
            .or_else(|| self.address.strip_prefix("udp://"))
        else {
            return true;
        };
        match rest.rsplit_once(':') {
            Some((_, "*")) | None => true,
            Some((_, port)) => port.parse::<u16>().is_ok(),
        }
    }
}

impl fmt::Display for ZmqEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.verb(), self.address)
    }
}
