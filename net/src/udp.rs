//! UDP: a [`UdpPort`] delivers each datagram to a [`DatagramProtocol`]
//! (Twisted's `reactor.listenUDP` and `listenMulticast`, reached here
//! through [`ReactorNet::listen_udp`](crate::ReactorNet::listen_udp)).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::rc::{Rc, Weak};
use std::time::Duration;

use mio::net::UdpSocket;
use tx0mq_reactor::{Ctx, Deferred, Reactor, WeakReactor};

use crate::error::{Error, Result};
use crate::shutdown::{self, Closable, Membership, Rank};

/// Datagrams a port reads per reactor pass at most; with more waiting it is
/// called again on the next pass.
pub const DATAGRAM_BUDGET: usize = 256;

/// The largest UDP payload (65,535 minus the IPv4 and UDP headers is
/// 65,507; IPv6 jumbograms aside): the size of the receive buffer.
const MAX_DATAGRAM: usize = 65_536;

/// What a [`DatagramProtocol`]'s callbacks get: reactor, state, and the port
/// (Twisted's `self.transport`), to answer with `write(data, addr)`.
pub struct UdpCtx<'a, S: 'static = ()> {
    /// The reactor.
    pub reactor: &'a Reactor<S>,
    /// The application state.
    pub state: &'a mut S,
    /// The port the datagram came to.
    pub transport: &'a UdpPort<S>,
}

impl<S: 'static> UdpCtx<'_, S> {
    /// The plain reactor context.
    pub fn ctx(&mut self) -> Ctx<'_, S> {
        Ctx {
            reactor: self.reactor,
            state: &mut *self.state,
        }
    }
}

impl<S: 'static> fmt::Debug for UdpCtx<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpCtx")
            .field("transport", self.transport)
            .finish()
    }
}

/// A datagram protocol (Twisted's `DatagramProtocol`).
///
/// A panic in `datagram_received` is survived, as Twisted logs an exception
/// there and goes on: the reactor logs it (or lets it unwind, as
/// configured) and the port carries on with the next datagram.
///
/// ```
/// use std::net::SocketAddr;
/// use tx0mq_net::udp::{DatagramProtocol, UdpCtx};
///
/// /// Twisted's UDP echo example.
/// struct Echo;
/// impl DatagramProtocol for Echo {
///     fn datagram_received(&mut self, cx: &mut UdpCtx<'_>, data: &[u8], addr: SocketAddr) {
///         if let Err(e) = cx.transport.write(data, addr) {
///             log::warn!("{e}");
///         }
///     }
/// }
/// ```
pub trait DatagramProtocol<S: 'static = ()>: 'static {
    /// The port is listening (Twisted's `startProtocol`): set options,
    /// join groups. Called before any datagram.
    fn start_protocol(&mut self, _cx: &mut UdpCtx<'_, S>) {}

    /// A datagram arrived from `addr` (Twisted's `datagramReceived`).
    fn datagram_received(&mut self, cx: &mut UdpCtx<'_, S>, data: &[u8], addr: SocketAddr);

    /// The port stopped listening (Twisted's `stopProtocol`).
    fn stop_protocol(&mut self, _cx: &mut UdpCtx<'_, S>) {}
}

struct UdpInner<S: 'static> {
    reactor: WeakReactor<S>,
    socket: RefCell<Option<UdpSocket>>,
    fd: RawFd,
    host: SocketAddr,
    protocol: RefCell<Option<Box<dyn DatagramProtocol<S>>>>,
    started: Cell<bool>,
    reading: Cell<bool>,
    paused: Cell<bool>,
    buf: RefCell<Vec<u8>>,
    /// What `stop_listening` returned, until `stop_protocol` has run.
    stopping: RefCell<Option<Deferred<()>>>,
    /// Its place among what the reactor's shutdown closes, until the
    /// protocol is stopped.
    membership: RefCell<Option<Membership<S>>>,
}

/// A bound UDP socket and its protocol (Twisted's UDP `Port`, and its
/// `MulticastPort` methods), from
/// [`ReactorNet::listen_udp`](crate::ReactorNet::listen_udp). The reactor
/// keeps it until [`stop_listening`](Self::stop_listening), or until it
/// shuts down, which closes the socket and calls the protocol's
/// `stop_protocol` before `run` returns.
pub struct UdpPort<S: 'static = ()> {
    inner: Rc<UdpInner<S>>,
}

impl<S: 'static> Clone for UdpPort<S> {
    fn clone(&self) -> Self {
        UdpPort {
            inner: self.inner.clone(),
        }
    }
}

/// `UdpPort(127.0.0.1:9999)`.
impl<S: 'static> fmt::Debug for UdpPort<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UdpPort({})", self.inner.host)
    }
}

pub(crate) fn listen_udp<S: 'static, P: DatagramProtocol<S>>(
    reactor: &Reactor<S>,
    addr: SocketAddr,
    protocol: P,
) -> Result<UdpPort<S>> {
    let socket = UdpSocket::bind(addr).map_err(|source| Error::Bind { addr, source })?;
    let host = socket.local_addr().map_err(|e| {
        Error::io(
            format!("read the address of the UDP port bound to {addr}"),
            e,
        )
    })?;
    let inner = Rc::new(UdpInner {
        reactor: reactor.downgrade(),
        fd: socket.as_raw_fd(),
        socket: RefCell::new(Some(socket)),
        host,
        protocol: RefCell::new(Some(Box::new(protocol))),
        started: Cell::new(false),
        reading: Cell::new(false),
        paused: Cell::new(false),
        buf: RefCell::new(Vec::new()),
        stopping: RefCell::new(None),
        membership: RefCell::new(None),
    });
    let port = UdpPort { inner };
    port.start_reading(reactor)?;
    let me: Weak<dyn Closable<S>> = Rc::downgrade(&port.inner) as Weak<UdpInner<S>>;
    *port.inner.membership.borrow_mut() = shutdown::join(reactor, Rank::Listening, me);
    // start_protocol at once outside the reactor's callbacks, else first
    // thing on the next pass (before any datagram, either way).
    let started = reactor.with_ctx(|cx| port.ensure_started(cx));
    if started.is_err() {
        let later = port.clone();
        reactor.call_later(Duration::ZERO, move |cx| later.ensure_started(cx));
    }
    Ok(port)
}

impl<S: 'static> UdpPort<S> {
    fn start_reading(&self, reactor: &Reactor<S>) -> Result<()> {
        let inner = &self.inner;
        if inner.reading.get() || inner.paused.get() || inner.socket.borrow().is_none() {
            return Ok(());
        }
        let port = self.clone();
        reactor.add_reader(inner.fd, move |cx| port.on_readable(cx))?;
        inner.reading.set(true);
        Ok(())
    }

    fn stop_reading(&self) {
        if self.inner.reading.replace(false) {
            if let Some(reactor) = self.inner.reactor.upgrade() {
                reactor.remove_reader(self.inner.fd);
            }
        }
    }

    fn ensure_started(&self, cx: &mut Ctx<'_, S>) {
        if self.inner.started.replace(true) || self.inner.socket.borrow().is_none() {
            return;
        }
        self.call_protocol(cx, |p, ucx| p.start_protocol(ucx));
    }

    /// Calls the protocol, out of its slot meanwhile; put back however the
    /// call ends (a panic included: the port carries on).
    fn call_protocol(
        &self,
        cx: &mut Ctx<'_, S>,
        f: impl FnOnce(&mut dyn DatagramProtocol<S>, &mut UdpCtx<'_, S>),
    ) {
        let taken = self.inner.protocol.borrow_mut().take();
        let Some(protocol) = taken else {
            return;
        };
        let mut lent = LentDatagram {
            port: &self.inner,
            protocol: Some(protocol),
        };
        if let Some(p) = lent.protocol.as_mut() {
            let mut ucx = UdpCtx {
                reactor: cx.reactor,
                state: &mut *cx.state,
                transport: self,
            };
            f(p.as_mut(), &mut ucx);
        }
    }

    /// The reader: receives until `WouldBlock` or [`DATAGRAM_BUDGET`]
    /// datagrams (the reactor re-arms the socket, so the rest come on the
    /// next pass).
    fn on_readable(&self, cx: &mut Ctx<'_, S>) {
        self.ensure_started(cx);
        let mut buf = std::mem::take(&mut *self.inner.buf.borrow_mut());
        if buf.len() < MAX_DATAGRAM {
            buf = vec![0; MAX_DATAGRAM];
        }
        for _ in 0..DATAGRAM_BUDGET {
            if !self.inner.reading.get() {
                break;
            }
            let received = match self.inner.socket.borrow().as_ref() {
                Some(socket) => socket.recv_from(&mut buf),
                None => break,
            };
            match received {
                Ok((n, addr)) => {
                    let data = &buf[..n.min(buf.len())];
                    self.call_protocol(cx, |p, ucx| p.datagram_received(ucx, data, addr));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                // An ICMP error for an earlier datagram of ours (port
                // unreachable): nothing to deliver, keep reading.
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionRefused
                    ) => {}
                Err(e) => {
                    log::warn!("{self:?}: receive failed: {e}");
                    break;
                }
            }
        }
        *self.inner.buf.borrow_mut() = buf;
    }

    fn with_socket<R>(&self, what: &str, f: impl FnOnce(&UdpSocket) -> io::Result<R>) -> Result<R> {
        let socket = self.inner.socket.borrow();
        let Some(socket) = socket.as_ref() else {
            return Err(Error::Closed {
                operation: "use",
                transport: format!("{self:?}"),
                why: "it stopped listening".to_string(),
            });
        };
        f(socket).map_err(|e| Error::io(format!("{what} on {self:?}"), e))
    }

    /// Sends `data` to `addr` as one datagram (Twisted's `write(datagram,
    /// addr)`). Datagrams are never queued: one the kernel cannot take now
    /// is not sent, and the error says so.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] with the kernel's refusal: `WouldBlock` (its buffer is
    /// full), `PermissionDenied` for a broadcast address without
    /// [`set_broadcast_allowed`](Self::set_broadcast_allowed), a message
    /// too long, an unreachable network; [`Error::Closed`] after
    /// [`stop_listening`](Self::stop_listening).
    pub fn write(&self, data: impl AsRef<[u8]>, addr: SocketAddr) -> Result<usize> {
        let data = data.as_ref();
        self.with_socket(&format!("send a datagram to {addr}"), |s| {
            s.send_to(data, addr)
        })
    }

    /// The address it is bound to, with the port the kernel chose for
    /// port 0 (Twisted's `getHost`).
    pub fn get_host(&self) -> SocketAddr {
        self.inner.host
    }

    /// Whether it still listens.
    pub fn is_listening(&self) -> bool {
        self.inner.socket.borrow().is_some()
    }

    /// Stops reading: datagrams wait in the kernel, which drops what does
    /// not fit (Twisted's `stopReading`).
    pub fn pause_producing(&self) {
        self.inner.paused.set(true);
        self.stop_reading();
    }

    /// Reads again after [`pause_producing`](Self::pause_producing).
    ///
    /// # Errors
    ///
    /// [`Error::Reactor`] if the reactor refuses the socket.
    pub fn resume_producing(&self) -> Result<()> {
        self.inner.paused.set(false);
        match self.inner.reactor.upgrade() {
            Some(reactor) => self.start_reading(&reactor),
            None => Ok(()),
        }
    }

    /// Closes the socket (Twisted's `stopListening`); the protocol's
    /// `stop_protocol` runs on the next pass, and then the Deferred fires.
    pub fn stop_listening(&self) -> Deferred<()> {
        let done = Deferred::new();
        if !self.close_socket() {
            let _ = done.callback(());
            return done;
        }
        match self.inner.reactor.upgrade() {
            Some(reactor) => {
                *self.inner.stopping.borrow_mut() = Some(done.clone());
                let port = self.clone();
                reactor.call_later(Duration::ZERO, move |cx| port.finish_stop(cx));
            }
            None => {
                let membership = self.inner.membership.borrow_mut().take();
                drop(membership);
                let _ = done.callback(());
            }
        }
        done
    }

    /// Stops reading and closes the socket; `false` if it was closed.
    fn close_socket(&self) -> bool {
        self.stop_reading();
        let socket = self.inner.socket.borrow_mut().take();
        socket.is_some()
    }

    /// The end of `stop_listening`: `stop_protocol` (if the protocol had
    /// started), then the Deferred fires; the port leaves the shutdown's
    /// list.
    fn finish_stop(&self, cx: &mut Ctx<'_, S>) {
        if self.inner.started.get() {
            self.call_protocol(cx, |p, ucx| p.stop_protocol(ucx));
        }
        let protocol = self.inner.protocol.borrow_mut().take();
        drop(protocol);
        let stopping = self.inner.stopping.borrow_mut().take();
        if let Some(done) = stopping {
            let _ = done.callback(());
        }
        let membership = self.inner.membership.borrow_mut().take();
        drop(membership);
    }

    /// Joins the multicast group `group` on the interface with address
    /// `interface` (Twisted's `joinGroup`); `0.0.0.0` (or `::`) lets the
    /// kernel choose. For IPv6, `interface` must be unspecified (the
    /// kernel's choice, interface index 0).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the kernel refuses (not a multicast address, a
    /// family that differs from the socket's, no such interface);
    /// [`Error::Address`] for an IPv6 group with a specific interface.
    pub fn join_group(&self, group: IpAddr, interface: IpAddr) -> Result<()> {
        self.membership(true, group, interface)
    }

    /// Leaves a group joined with [`join_group`](Self::join_group)
    /// (Twisted's `leaveGroup`).
    ///
    /// # Errors
    ///
    /// As for `join_group`.
    pub fn leave_group(&self, group: IpAddr, interface: IpAddr) -> Result<()> {
        self.membership(false, group, interface)
    }

    fn membership(&self, join: bool, group: IpAddr, interface: IpAddr) -> Result<()> {
        let what = format!(
            "{} multicast group {group} on {interface}",
            if join { "join" } else { "leave" }
        );
        match (group, interface) {
            (IpAddr::V4(group), IpAddr::V4(interface)) => self.with_socket(&what, |s| {
                if join {
                    s.join_multicast_v4(&group, &interface)
                } else {
                    s.leave_multicast_v4(&group, &interface)
                }
            }),
            (IpAddr::V6(group), interface) if interface.is_unspecified() => {
                self.with_socket(&what, |s| {
                    if join {
                        s.join_multicast_v6(&group, 0)
                    } else {
                        s.leave_multicast_v6(&group, 0)
                    }
                })
            }
            (group, interface) => Err(Error::Address {
                text: interface.to_string(),
                why: format!(
                    "not an interface for group {group} (an IPv4 group takes an IPv4 \
                     interface address; an IPv6 group, the unspecified address ::)"
                ),
            }),
        }
    }

    /// The time-to-live of the multicast datagrams it sends (Twisted's
    /// `setTTL`; default 1: they stay on the local network).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the kernel refuses (an IPv6 socket, say).
    pub fn set_ttl(&self, ttl: u32) -> Result<()> {
        self.with_socket("set the multicast TTL", |s| s.set_multicast_ttl_v4(ttl))
    }

    /// The multicast time-to-live (Twisted's `getTTL`).
    ///
    /// # Errors
    ///
    /// As for [`set_ttl`](Self::set_ttl).
    pub fn get_ttl(&self) -> Result<u32> {
        self.with_socket("read the multicast TTL", |s| s.multicast_ttl_v4())
    }

    /// Whether multicast datagrams it sends are delivered to this host's
    /// own members too (Twisted's `setLoopbackMode`; default on).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the kernel refuses.
    pub fn set_loopback_mode(&self, on: bool) -> Result<()> {
        self.with_socket("set the multicast loopback mode", |s| {
            if self.inner.host.is_ipv4() {
                s.set_multicast_loop_v4(on)
            } else {
                s.set_multicast_loop_v6(on)
            }
        })
    }

    /// The multicast loopback mode (Twisted's `getLoopbackMode`).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the kernel refuses.
    pub fn get_loopback_mode(&self) -> Result<bool> {
        self.with_socket("read the multicast loopback mode", |s| {
            if self.inner.host.is_ipv4() {
                s.multicast_loop_v4()
            } else {
                s.multicast_loop_v6()
            }
        })
    }

    /// Whether it may send to broadcast addresses (`SO_BROADCAST`;
    /// Twisted's `setBroadcastAllowed`; default off, when the kernel
    /// refuses such a send with `PermissionDenied`).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the kernel refuses.
    pub fn set_broadcast_allowed(&self, on: bool) -> Result<()> {
        self.with_socket("set SO_BROADCAST", |s| s.set_broadcast(on))
    }

    /// Whether broadcast is allowed (Twisted's `getBroadcastAllowed`).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the kernel refuses.
    pub fn get_broadcast_allowed(&self) -> Result<bool> {
        self.with_socket("read SO_BROADCAST", |s| s.broadcast())
    }
}

impl<S: 'static> Closable<S> for UdpInner<S> {
    /// Closes the socket and stops the protocol now (also one whose
    /// `stop_listening` still waited for its next pass).
    fn reactor_shutdown(self: Rc<Self>, cx: &mut Ctx<'_, S>) {
        let port = UdpPort { inner: self };
        port.close_socket();
        port.finish_stop(cx);
    }
}

/// A datagram protocol out of its slot for a call; put back when dropped,
/// a panic's unwind included.
struct LentDatagram<'a, S: 'static> {
    port: &'a UdpInner<S>,
    protocol: Option<Box<dyn DatagramProtocol<S>>>,
}

impl<S: 'static> Drop for LentDatagram<'_, S> {
    fn drop(&mut self) {
        if let Some(protocol) = self.protocol.take() {
            if std::thread::panicking() {
                log::error!(
                    "UDP port {}: its protocol panicked; the port carries on",
                    self.port.host
                );
            }
            *self.port.protocol.borrow_mut() = Some(protocol);
        }
    }
}
