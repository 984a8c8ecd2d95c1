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
//!   before `bind`, so [`bind_broadcast`] makes the socket with `libc`.
//! - The original finds its own address from the host name
//!   (`gethostbyname_ex`, the last address not in 127/8); the port takes
//!   the first IPv4 address of an interface that is up and not loopback
//!   ([`own_address`], `getifaddrs`), the address the host name usually
//!   resolves to, without depending on `/etc/hosts`.
//! - [`recv`](Udp::recv) returns what it read (the original returns
//!   nothing, though `interface.py` uses its result as the peer's UUID).
#![allow(dead_code)]

use std::ffi::CStr;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

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
    // SAFETY: socket(2) takes no pointers; the result is checked below.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a descriptor we just opened and own alone.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    set_flag(&owned, libc::SO_REUSEADDR)?;
    set_flag(&owned, libc::SO_BROADCAST)?;
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(Ipv4Addr::UNSPECIFIED).to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: `addr` is a valid sockaddr_in and the length given is its size.
    let bound = unsafe {
        libc::bind(
            owned.as_raw_fd(),
            (&addr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    };
    if bound < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(
            e.kind(),
            format!("bind UDP port {port}: {e}"),
        ));
    }
    let socket = UdpSocket::from(owned);
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// Sets the socket option `name` (of `SOL_SOCKET`) to 1.
fn set_flag(fd: &OwnedFd, name: libc::c_int) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: `on` is a c_int that outlives the call, and its size is given.
    let done = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            name,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if done < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The host's network interfaces that have an IPv4 address, with it, in
/// the kernel's order (netifaces' `interfaces()` and
/// `ifaddresses(name)[AF_INET]`, from `getifaddrs(3)`), and whether each is
/// up and not loopback.
pub fn ipv4_interfaces() -> io::Result<Vec<Interface>> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a list we free below.
    if unsafe { libc::getifaddrs(&mut list) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut found = Vec::new();
    let mut next = list;
    while !next.is_null() {
        // SAFETY: `next` is a node of the list getifaddrs returned, not yet freed.
        let node = unsafe { &*next };
        next = node.ifa_next;
        if node.ifa_addr.is_null() || node.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_addr is non-null and points to a sockaddr.
        if i32::from(unsafe { (*node.ifa_addr).sa_family }) != libc::AF_INET {
            continue;
        }
        // SAFETY: an AF_INET address is a sockaddr_in.
        let sin = unsafe { &*(node.ifa_addr as *const libc::sockaddr_in) };
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let name = unsafe { CStr::from_ptr(node.ifa_name) };
        let flags = node.ifa_flags;
        found.push(Interface {
            name: name.to_string_lossy().into_owned(),
            address: Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)),
            up: flags & libc::IFF_UP as libc::c_uint != 0,
            loopback: flags & libc::IFF_LOOPBACK as libc::c_uint != 0,
        });
    }
    // SAFETY: `list` came from getifaddrs and is freed once; nothing from it
    // is kept (names were copied).
    unsafe { libc::freeifaddrs(list) };
    Ok(found)
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
