//! `udplib.py`, the zguide's small UDP class (chapter 8, "Broadcasting
//! on UDP"), shared by `udpping2` and the `interface` module (and, for its
//! socket alone, by `udpping1`).
//!
//! [`Udp`] is the original's `UDP`: a UDP socket bound to `0.0.0.0:PORT`
//! that may broadcast, [`send`](Udp::send) to the broadcast address on
//! the same port, and [`recv`](Udp::recv), which prints `Found peer
//! ADDRESS:PORT` for a datagram from anyone but ourselves. The socket is a
//! plain `std::net::UdpSocket`, non-blocking, for the reactor's
//! `add_reader` (what the original's callers do with `zmq.Poller` or the
//! IOLoop's `add_handler`).
//!
//! Where it differs, and why:
//!
//! - The socket also has `SO_REUSEADDR`, so that two peers on one host can
//!   bind the same port and both hear a broadcast there (the original's
//!   second copy on a host fails to bind). `std` cannot set an option
//!   before `bind`, so [`bind_broadcast`] makes the socket with `socket2`.
//! - The original finds its own address from the host name
//!   (`gethostbyname_ex`, the last address not in 127/8); the port takes
//!   the first IPv4 address of an interface that is up and not loopback
//!   ([`own_address`], `getifaddrs`), the address the host name usually
//!   resolves to, without depending on `/etc/hosts`.
//! - [`recv`](Udp::recv) returns what it read (the original returns
//!   nothing, though `interface.py` uses its result as the peer's UUID).
#![allow(dead_code)]

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};

use socket2::{Domain, Protocol, Socket, Type};

/// The original's default broadcast address.
pub const BROADCAST: Ipv4Addr = Ipv4Addr::BROADCAST;

/// The original's `UDP`: a broadcasting UDP socket on one port.
#[derive(Debug)]
pub struct Udp {
    /// The socket, bound to `0.0.0.0:port`, non-blocking.
    handle: UdpSocket,
    /// The port we bind and broadcast to.
    pub port: u16,
    /// Our own address: datagrams from it are not reported as peers.
    pub address: Option<Ipv4Addr>,
    /// Where [`send`](Self::send) broadcasts (on `port`).
    pub broadcast: Ipv4Addr,
}

impl Udp {
    /// `UDP(port, address, broadcast)`: binds `0.0.0.0:port`; `address`
    /// defaults to [`own_address`], `broadcast` to [`BROADCAST`].
    pub fn new(
        port: u16,
        address: Option<Ipv4Addr>,
        broadcast: Option<Ipv4Addr>,
    ) -> io::Result<Udp> {
        Ok(Udp {
            handle: bind_broadcast(port)?,
            port,
            address: address.or_else(own_address),
            broadcast: broadcast.unwrap_or(BROADCAST),
        })
    }

    /// The socket's descriptor, for `reactor.add_reader`.
    pub fn fd(&self) -> RawFd {
        self.handle.as_raw_fd()
    }

    /// Broadcasts `buf` to `broadcast:port`.
    pub fn send(&self, buf: &[u8]) -> io::Result<()> {
        let to = SocketAddrV4::new(self.broadcast, self.port);
        self.handle.send_to(buf, to).map(drop)
    }

    /// Reads one datagram, at most `n` bytes of it (the rest is dropped, as
    /// by `recvfrom(n)`), and prints `Found peer ADDRESS:PORT` unless it
    /// came from our own address. `Ok(None)` if nothing was waiting.
    pub fn recv(&self, n: usize) -> io::Result<Option<(Vec<u8>, SocketAddr)>> {
        let mut buf = vec![0; n];
        match self.handle.recv_from(&mut buf) {
            Ok((size, from)) => {
                buf.truncate(size);
                let ours = matches!((from, self.address), (SocketAddr::V4(v4), Some(own)) if *v4.ip() == own);
                if !ours {
                    println!("Found peer {}:{}", from.ip(), from.port());
                }
                Ok(Some((buf, from)))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// A non-blocking UDP socket bound to `0.0.0.0:port` with `SO_BROADCAST`
/// (it may send to a broadcast address) and `SO_REUSEADDR` (other sockets
/// on this host may bind the same port, and each hears the broadcasts).
pub fn bind_broadcast(port: u16) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_broadcast(true)?;
    let here = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port);
    socket
        .bind(&here.into())
        .map_err(|e| io::Error::new(e.kind(), format!("bind UDP port {port}: {e}")))?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// The host's network interfaces that have an IPv4 address, with it, in
/// the kernel's order (netifaces' `interfaces()` and
/// `ifaddresses(name)[AF_INET]`, from `getifaddrs(3)` via `if-addrs`), and whether each is
/// up and not loopback.
pub fn ipv4_interfaces() -> io::Result<Vec<Interface>> {
    Ok(if_addrs::get_if_addrs()?
        .into_iter()
        .filter_map(|i| match i.addr {
            if_addrs::IfAddr::V4(ref v4) => Some(Interface {
                name: i.name.clone(),
                address: v4.ip,
                up: i.is_oper_up(),
                loopback: i.is_loopback(),
            }),
            if_addrs::IfAddr::V6(_) => None,
        })
        .collect())
}

/// One interface's IPv4 address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// Its name (`eth0`, `lo`).
    pub name: String,
    /// The address.
    pub address: Ipv4Addr,
    /// Whether it is up.
    pub up: bool,
    /// Whether it is a loopback interface.
    pub loopback: bool,
}

/// Our own address: the first IPv4 address of an interface that is up and
/// not loopback, if any.
pub fn own_address() -> Option<Ipv4Addr> {
    ipv4_interfaces()
        .ok()?
        .into_iter()
        .find(|i| i.up && !i.loopback)
        .map(|i| i.address)
}
