//! Addresses: what a transport's ends are ([`Address`]), and what a port can
//! be told to listen on ([`ListenAddr`]).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::error::{Error, Result};

/// One end of a transport, as `get_peer` and `get_host` return it
/// (Twisted's `IAddress`: `IPv4Address`, `IPv6Address`, `PipeAddress`).
///
/// ```
/// use tx0mq_net::Address;
///
/// let addr = Address::Tcp("127.0.0.1:8000".parse()?);
/// assert_eq!(addr.socket_addr().map(|a| a.port()), Some(8000));
/// assert_eq!(addr.to_string(), "127.0.0.1:8000");
/// assert_eq!(Address::Pipe.socket_addr(), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Address {
    /// A TCP (or UDP) endpoint.
    Tcp(SocketAddr),
    /// A pipe or terminal (standard I/O): Twisted's `PipeAddress`.
    Pipe,
}

impl Address {
    /// The socket address, for a TCP end.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match self {
            Address::Tcp(addr) => Some(*addr),
            Address::Pipe => None,
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp(addr) => write!(f, "{addr}"),
            Address::Pipe => f.write_str("pipe"),
        }
    }
}

/// What `listen_tcp` and `listen_udp` accept as where to listen, as
/// Twisted's `port` and `interface` arguments do:
///
/// - a port number alone, `8000`: every IPv4 interface (Twisted's default
///   `interface=''`), `0.0.0.0:8000`;
/// - a [`SocketAddr`], or `(ip, port)`;
/// - text: `"127.0.0.1:0"`, `"[::1]:8000"`, or `("127.0.0.1", 8000)`.
///
/// Port 0 asks the kernel for a free port; read it back with `get_host`.
///
/// ```
/// use tx0mq_net::ListenAddr;
///
/// assert_eq!(8000.listen_addr()?.to_string(), "0.0.0.0:8000");
/// assert_eq!("127.0.0.1:0".listen_addr()?.port(), 0);
/// assert_eq!(("::1", 9).listen_addr()?.to_string(), "[::1]:9");
/// assert!("localhost:80".listen_addr().is_err()); // numeric only: no lookup
/// # Ok::<(), tx0mq_net::Error>(())
/// ```
pub trait ListenAddr {
    /// The address to bind.
    ///
    /// # Errors
    ///
    /// [`Error::Address`] for text that is not a numeric address.
    fn listen_addr(self) -> Result<SocketAddr>;
}

impl ListenAddr for u16 {
    fn listen_addr(self) -> Result<SocketAddr> {
        Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), self))
    }
}

impl ListenAddr for SocketAddr {
    fn listen_addr(self) -> Result<SocketAddr> {
        Ok(self)
    }
}

impl ListenAddr for (IpAddr, u16) {
    fn listen_addr(self) -> Result<SocketAddr> {
        Ok(SocketAddr::new(self.0, self.1))
    }
}

impl ListenAddr for (Ipv4Addr, u16) {
    fn listen_addr(self) -> Result<SocketAddr> {
        Ok(SocketAddr::new(IpAddr::V4(self.0), self.1))
    }
}

impl ListenAddr for (&str, u16) {
    fn listen_addr(self) -> Result<SocketAddr> {
        let ip: IpAddr = self.0.parse().map_err(|e| Error::Address {
            text: self.0.to_string(),
            why: format!("{e} (an interface is given by its IP address)"),
        })?;
        Ok(SocketAddr::new(ip, self.1))
    }
}

impl ListenAddr for &str {
    fn listen_addr(self) -> Result<SocketAddr> {
        self.parse().map_err(|e| Error::Address {
            text: self.to_string(),
            why: format!("{e} (expected IP:PORT, such as 127.0.0.1:8000 or [::1]:8000)"),
        })
    }
}

impl ListenAddr for &String {
    fn listen_addr(self) -> Result<SocketAddr> {
        self.as_str().listen_addr()
    }
}

impl ListenAddr for String {
    fn listen_addr(self) -> Result<SocketAddr> {
        self.as_str().listen_addr()
    }
}
