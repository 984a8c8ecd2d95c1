//! TCP: listening [`Port`]s and outgoing [`Connector`]s (Twisted's
//! `reactor.listenTCP` and `reactor.connectTCP`, reached here through
//! [`ReactorNet`](crate::ReactorNet)).

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::io::{self, IoSlice, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use tx0mq_reactor::{Ctx, Deferred, DelayedCall, Reactor, WeakReactor};

use crate::address::Address;
use crate::error::{Error, Reason, Result};
use crate::protocol::{ClientFactory, Protocol, ServerFactory};
use crate::reconnect::WeakBackoff;
use crate::shutdown::{self, Closable, Membership, Rank};
use crate::transport::{reactor_failure, Channel, Core, Parts, ReadSide, Transport, WriteSide};

/// Connections a port accepts per reactor pass at most; with more waiting
/// it is called again on the next pass.
pub const ACCEPT_BUDGET: usize = 100;

/// How long a port stops accepting after `accept` fails for want of
/// resources (out of file descriptors, say), so that a listening socket
/// the kernel keeps reporting does not spin the loop.
pub const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Twisted's default timeout for `connectTCP`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// A TCP socket as a transport's byte stream.
struct TcpChannel(TcpStream);

impl Channel for TcpChannel {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.0.write_vectored(bufs)
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn shutdown_write(&mut self) -> io::Result<()> {
        self.0.shutdown(Shutdown::Write)
    }

    fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.0.set_nodelay(on)
    }
}

/// A connected TCP stream as a transport, not started yet.
fn tcp_transport<S: 'static>(
    reactor: &Reactor<S>,
    stream: TcpStream,
    peer: SocketAddr,
    protocol: Box<dyn Protocol<S>>,
    on_lost: Option<crate::transport::LostHook<S>>,
) -> Transport<S> {
    let fd = stream.as_raw_fd();
    let host = match stream.local_addr() {
        Ok(addr) => Address::Tcp(addr),
        Err(_) => Address::Tcp(SocketAddr::new(IpAddr::from([0, 0, 0, 0]), 0)),
    };
    let core = Core::new(Parts {
        reactor,
        kind: "TCP connection",
        peer: Address::Tcp(peer),
        host,
        channel: Box::new(TcpChannel(stream)),
        read_side: ReadSide::Poll(fd),
        write_side: WriteSide::Poll(fd),
        protocol,
        on_lost,
    });
    Transport { core }
}

// ---------------------------------------------------------------------------
// Listening

/// A server factory with its protocol type erased.
trait AnyServerFactory<S: 'static> {
    fn build(&mut self, addr: SocketAddr) -> Option<Box<dyn Protocol<S>>>;
    fn start(&mut self);
    fn stop(&mut self);
}

impl<S: 'static, F: ServerFactory<S>> AnyServerFactory<S> for F {
    fn build(&mut self, addr: SocketAddr) -> Option<Box<dyn Protocol<S>>> {
        self.build_protocol(addr)
            .map(|p| Box::new(p) as Box<dyn Protocol<S>>)
    }
    fn start(&mut self) {
        self.start_factory();
    }
    fn stop(&mut self) {
        self.stop_factory();
    }
}

struct PortInner<S: 'static> {
    reactor: WeakReactor<S>,
    /// `None` once it stopped listening (dropping it closes the socket).
    listener: RefCell<Option<TcpListener>>,
    fd: RawFd,
    host: SocketAddr,
    /// Out of its slot while it builds a protocol.
    factory: RefCell<Option<Box<dyn AnyServerFactory<S>>>>,
    listening: Cell<bool>,
    accepting: Cell<bool>,
    /// The call that resumes accepting after [`ACCEPT_PAUSE`].
    retry: RefCell<Option<DelayedCall>>,
    /// What `stop_listening` returned, until `stop_factory` has run.
    stopping: RefCell<Option<Deferred<()>>>,
    /// Its place among what the reactor's shutdown closes, until the
    /// factory is stopped.
    membership: RefCell<Option<Membership<S>>>,
}

/// A listening TCP port (Twisted's `IListeningPort`), made by
/// [`ReactorNet::listen_tcp`](crate::ReactorNet::listen_tcp).
///
/// The reactor keeps the port listening until
/// [`stop_listening`](Self::stop_listening), whether or not the program
/// keeps this handle (as Twisted's reactor keeps a port), or until the
/// reactor shuts down: that stops it as `stop_listening` does, the
/// factory's `stop_factory` included, before `run` returns. Connections it
/// accepted are closed by the shutdown too (see
/// [`Reason::ReactorShutdown`]).
pub struct Port<S: 'static = ()> {
    inner: Rc<PortInner<S>>,
}

impl<S: 'static> Clone for Port<S> {
    fn clone(&self) -> Self {
        Port {
            inner: self.inner.clone(),
        }
    }
}

/// `Port(TCP port 127.0.0.1:8000)`.
impl<S: 'static> fmt::Debug for Port<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Port(TCP port {})", self.inner.host)
    }
}

pub(crate) fn listen_tcp<S: 'static, F: ServerFactory<S>>(
    reactor: &Reactor<S>,
    addr: SocketAddr,
    factory: F,
) -> Result<Port<S>> {
    let listener = TcpListener::bind(addr).map_err(|source| Error::Bind { addr, source })?;
    let host = listener
        .local_addr()
        .map_err(|e| Error::io(format!("read the address of the port bound to {addr}"), e))?;
    let mut factory: Box<dyn AnyServerFactory<S>> = Box::new(factory);
    factory.start();
    let inner = Rc::new(PortInner {
        reactor: reactor.downgrade(),
        fd: listener.as_raw_fd(),
        listener: RefCell::new(Some(listener)),
        host,
        factory: RefCell::new(Some(factory)),
        listening: Cell::new(true),
        accepting: Cell::new(false),
        retry: RefCell::new(None),
        stopping: RefCell::new(None),
        membership: RefCell::new(None),
    });
    if let Err(e) = inner.start_accepting(reactor) {
        inner.listening.set(false);
        let listener = inner.listener.borrow_mut().take();
        drop(listener);
        return Err(e.into());
    }
    let me: Weak<dyn Closable<S>> = Rc::downgrade(&inner) as Weak<PortInner<S>>;
    *inner.membership.borrow_mut() = shutdown::join(reactor, Rank::Listening, me);
    log::debug!("listening on TCP port {host}");
    Ok(Port { inner })
}

impl<S: 'static> PortInner<S> {
    fn start_accepting(self: &Rc<Self>, reactor: &Reactor<S>) -> tx0mq_reactor::Result<()> {
        if self.accepting.get() || !self.listening.get() {
            return Ok(());
        }
        let port = self.clone();
        reactor.add_reader(self.fd, move |cx| port.on_acceptable(cx))?;
        self.accepting.set(true);
        Ok(())
    }

    fn stop_accepting(&self) {
        if self.accepting.replace(false) {
            if let Some(reactor) = self.reactor.upgrade() {
                reactor.remove_reader(self.fd);
            }
        }
    }

    /// The reader: accepts until `WouldBlock` or [`ACCEPT_BUDGET`]
    /// connections (the reactor re-arms the socket, so the rest are
    /// accepted on the next pass).
    fn on_acceptable(self: &Rc<Self>, cx: &mut Ctx<'_, S>) {
        for _ in 0..ACCEPT_BUDGET {
            if !self.listening.get() {
                return;
            }
            let accepted = match self.listener.borrow().as_ref() {
                Some(listener) => listener.accept(),
                None => return,
            };
            match accepted {
                Ok((stream, addr)) => self.accepted(cx, stream, addr),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
                    ) => {}
                Err(e) => {
                    log::error!(
                        "TCP port {}: accept failed: {e}; not accepting for {ACCEPT_PAUSE:?}",
                        self.host
                    );
                    self.pause_accepting(cx.reactor);
                    return;
                }
            }
        }
    }

    fn pause_accepting(self: &Rc<Self>, reactor: &Reactor<S>) {
        self.stop_accepting();
        let port = self.clone();
        let call = reactor.call_later(ACCEPT_PAUSE, move |cx| {
            port.retry.borrow_mut().take();
            if let Err(e) = port.start_accepting(cx.reactor) {
                log::error!("TCP port {}: cannot accept again: {e}", port.host);
            }
        });
        let old = self.retry.borrow_mut().replace(call);
        drop(old);
    }

    fn accepted(self: &Rc<Self>, cx: &mut Ctx<'_, S>, stream: TcpStream, addr: SocketAddr) {
        let taken = self.factory.borrow_mut().take();
        let Some(factory) = taken else {
            return; // stopped listening meanwhile: the connection is closed
        };
        let mut lent = LentFactory {
            port: self,
            factory: Some(factory),
        };
        let built = lent.factory.as_mut().and_then(|f| f.build(addr));
        drop(lent);
        match built {
            Some(protocol) => {
                let transport = tcp_transport(cx.reactor, stream, addr, protocol, None);
                transport.core.start(cx);
            }
            None => log::debug!(
                "TCP port {}: the factory refused the connection from {addr}",
                self.host
            ),
        }
    }

    fn stop_factory(&self) {
        let taken = self.factory.borrow_mut().take();
        if let Some(mut factory) = taken {
            factory.stop();
        }
    }

    /// Stops listening: the socket is closed at once. `false` if it had
    /// stopped already.
    fn close_socket(&self) -> bool {
        if !self.listening.replace(false) {
            return false;
        }
        self.stop_accepting();
        let retry = self.retry.borrow_mut().take();
        if let Some(retry) = retry {
            let _ = retry.cancel();
        }
        let listener = self.listener.borrow_mut().take();
        drop(listener);
        log::debug!("stopped listening on TCP port {}", self.host);
        true
    }

    /// The end of `stop_listening`: the factory's `stop_factory`, then the
    /// Deferred fires; the port leaves the shutdown's list.
    fn finish_stop(&self) {
        self.stop_factory();
        let stopping = self.stopping.borrow_mut().take();
        if let Some(done) = stopping {
            let _ = done.callback(());
        }
        let membership = self.membership.borrow_mut().take();
        drop(membership);
    }
}

impl<S: 'static> Closable<S> for PortInner<S> {
    /// Stops listening, and finishes a `stop_listening` still waiting for
    /// its next pass.
    fn reactor_shutdown(self: Rc<Self>, _cx: &mut Ctx<'_, S>) {
        self.close_socket();
        self.finish_stop();
    }
}

/// A server factory taken out of its port to build a protocol; put back
/// when dropped, also when `build_protocol` panics.
struct LentFactory<'a, S: 'static> {
    port: &'a PortInner<S>,
    factory: Option<Box<dyn AnyServerFactory<S>>>,
}

impl<S: 'static> Drop for LentFactory<'_, S> {
    fn drop(&mut self) {
        if let Some(factory) = self.factory.take() {
            if self.port.listening.get() {
                *self.port.factory.borrow_mut() = Some(factory);
            } else {
                // Stopped listening during the call: it is told so now.
                let mut factory = factory;
                factory.stop();
            }
        }
    }
}

impl<S: 'static> Port<S> {
    /// The address it listens on, with the port the kernel chose for port 0
    /// (Twisted's `getHost`).
    pub fn get_host(&self) -> SocketAddr {
        self.inner.host
    }

    /// Whether it still listens.
    pub fn is_listening(&self) -> bool {
        self.inner.listening.get()
    }

    /// Stops listening (Twisted's `stopListening`): the socket is closed at
    /// once, so the address is free again when this returns; connections
    /// already accepted carry on. The factory's `stop_factory` runs on the
    /// next pass, and then the returned Deferred fires. Stopping a port
    /// that has stopped returns a Deferred that has fired.
    pub fn stop_listening(&self) -> Deferred<()> {
        let done = Deferred::new();
        if !self.inner.close_socket() {
            let _ = done.callback(());
            return done;
        }
        *self.inner.stopping.borrow_mut() = Some(done.clone());
        match self.inner.reactor.upgrade() {
            Some(reactor) => {
                let inner = self.inner.clone();
                reactor.call_later(Duration::ZERO, move |_| inner.finish_stop());
            }
            None => self.inner.finish_stop(),
        }
        done
    }
}

// ---------------------------------------------------------------------------
// Connecting

/// Where a [`Connector`] is (Twisted's `connector.state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectorState {
    /// Not connected, not trying.
    Disconnected,
    /// Resolving the name or waiting for the connection to complete.
    Connecting,
    /// Connected: [`Connector::transport`] is the connection.
    Connected,
}

impl ConnectorState {
    fn name(self) -> &'static str {
        match self {
            ConnectorState::Disconnected => "disconnected",
            ConnectorState::Connecting => "connecting",
            ConnectorState::Connected => "connected",
        }
    }
}

/// A client factory with its protocol type erased.
trait AnyClientFactory<S: 'static> {
    fn build(&mut self, addr: SocketAddr) -> Box<dyn Protocol<S>>;
    fn start(&mut self);
    fn stop(&mut self);
    fn started(&mut self, connector: &Connector<S>);
    fn failed(&mut self, cx: &mut Ctx<'_, S>, connector: &Connector<S>, reason: &Reason);
    fn lost(&mut self, cx: &mut Ctx<'_, S>, connector: &Connector<S>, reason: &Reason);
}

impl<S: 'static, F: ClientFactory<S>> AnyClientFactory<S> for F {
    fn build(&mut self, addr: SocketAddr) -> Box<dyn Protocol<S>> {
        Box::new(self.build_protocol(addr))
    }
    fn start(&mut self) {
        self.start_factory();
    }
    fn stop(&mut self) {
        self.stop_factory();
    }
    fn started(&mut self, connector: &Connector<S>) {
        self.started_connecting(connector);
    }
    fn failed(&mut self, cx: &mut Ctx<'_, S>, connector: &Connector<S>, reason: &Reason) {
        self.client_connection_failed(cx, connector, reason);
    }
    fn lost(&mut self, cx: &mut Ctx<'_, S>, connector: &Connector<S>, reason: &Reason) {
        self.client_connection_lost(cx, connector, reason);
    }
}

/// The socket of an attempt, while the kernel completes the connection.
struct Attempt {
    stream: TcpStream,
    fd: RawFd,
}

struct ConnectorInner<S: 'static> {
    reactor: WeakReactor<S>,
    host: String,
    port: u16,
    timeout: Option<Duration>,
    /// Out of its slot while it runs.
    factory: RefCell<Option<Box<dyn AnyClientFactory<S>>>>,
    factory_started: Cell<bool>,
    /// `started_connecting` is owed to the factory (it was busy).
    started_pending: Cell<bool>,
    state: Cell<ConnectorState>,
    /// Numbers the attempts, so a late event of an old one is ignored.
    attempt: Cell<u64>,
    /// `stop_connecting` was called on the current attempt.
    cancelled: Cell<bool>,
    pending: RefCell<Option<Attempt>>,
    timer: RefCell<Option<DelayedCall>>,
    transport: RefCell<Option<Transport<S>>>,
    /// The backoff of a reconnecting factory that uses it: stopped when the
    /// reactor shuts down.
    backoff: RefCell<Option<WeakBackoff<S>>>,
    /// Its place among what the reactor's shutdown closes (for as long as
    /// the connector exists).
    membership: RefCell<Option<Membership<S>>>,
}

/// An outgoing TCP connection, made and remade (Twisted's `IConnector`),
/// from [`ReactorNet::connect_tcp`](crate::ReactorNet::connect_tcp).
///
/// It connects once at creation; its factory hears how that went, and may
/// call [`connect`](Self::connect) to try again (which is what
/// [`ReconnectingClientFactory`](crate::ReconnectingClientFactory) does).
///
/// When the reactor shuts down, an attempt under way is cancelled (the
/// factory hears `client_connection_failed` with
/// [`Reason::ReactorShutdown`]), a connection made is closed (its protocol,
/// then the factory's `client_connection_lost`, hear the same reason), and a
/// reconnecting factory stops retrying, all before `run` returns.
pub struct Connector<S: 'static = ()> {
    inner: Rc<ConnectorInner<S>>,
}

impl<S: 'static> Clone for Connector<S> {
    fn clone(&self) -> Self {
        Connector {
            inner: self.inner.clone(),
        }
    }
}

/// `Connector(localhost:8000, connecting)`.
impl<S: 'static> fmt::Debug for Connector<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Connector({}:{}, {})",
            self.inner.host,
            self.inner.port,
            self.inner.state.get().name()
        )
    }
}

/// A [`Connector`] that does not keep it alive (for what the connector's
/// own factory holds).
pub(crate) struct WeakConnector<S: 'static>(Weak<ConnectorInner<S>>);

impl<S: 'static> WeakConnector<S> {
    pub(crate) fn upgrade(&self) -> Option<Connector<S>> {
        self.0.upgrade().map(|inner| Connector { inner })
    }
}

pub(crate) fn connect_tcp<S: 'static, F: ClientFactory<S>>(
    reactor: &Reactor<S>,
    host: &str,
    port: u16,
    factory: F,
    timeout: Option<Duration>,
) -> Connector<S> {
    let connector = Connector {
        inner: Rc::new(ConnectorInner {
            reactor: reactor.downgrade(),
            host: host.to_string(),
            port,
            timeout,
            factory: RefCell::new(Some(Box::new(factory))),
            factory_started: Cell::new(false),
            started_pending: Cell::new(false),
            state: Cell::new(ConnectorState::Disconnected),
            attempt: Cell::new(0),
            cancelled: Cell::new(false),
            pending: RefCell::new(None),
            timer: RefCell::new(None),
            transport: RefCell::new(None),
            backoff: RefCell::new(None),
            membership: RefCell::new(None),
        }),
    };
    let me: Weak<dyn Closable<S>> = Rc::downgrade(&connector.inner) as Weak<ConnectorInner<S>>;
    *connector.inner.membership.borrow_mut() = shutdown::join(reactor, Rank::Connecting, me);
    // A new connector is disconnected: connect cannot refuse.
    if let Err(e) = connector.connect() {
        log::error!("{connector:?}: {e}");
    }
    connector
}

impl<S: 'static> Connector<S> {
    pub(crate) fn downgrade(&self) -> WeakConnector<S> {
        WeakConnector(Rc::downgrade(&self.inner))
    }

    /// Notes the backoff of the reconnecting factory that uses it, to stop
    /// it when the reactor shuts down.
    pub(crate) fn set_backoff(&self, backoff: WeakBackoff<S>) {
        *self.inner.backoff.borrow_mut() = Some(backoff);
    }

    /// For the reactor's shutdown: a reconnecting factory stops retrying,
    /// an attempt under way fails with [`Reason::ReactorShutdown`] (the
    /// factory hears `client_connection_failed` now), a connection made is
    /// closed (its protocol, then the factory, hear the loss now).
    fn shut_down(&self, cx: &mut Ctx<'_, S>) {
        let backoff = self.inner.backoff.borrow().clone();
        if let Some(backoff) = backoff {
            backoff.reactor_shutdown();
        }
        match self.inner.state.get() {
            ConnectorState::Connecting => {
                let id = self.inner.attempt.get();
                self.fail_attempt(cx, id, Reason::ReactorShutdown);
            }
            ConnectorState::Connected => {
                if let Some(transport) = self.transport() {
                    transport.core.shut_down(cx);
                }
            }
            ConnectorState::Disconnected => {}
        }
    }

    /// Starts a connection attempt (Twisted's `connect`): the factory's
    /// `started_connecting` is called (at once, or after the factory's
    /// running callback returns when called from one), the name is
    /// resolved (a numeric address at once; a name on a helper thread,
    /// preferring IPv4 as Twisted's `connectTCP` does), and the kernel
    /// connects without blocking. The factory then hears
    /// `client_connection_failed`, or its protocol `connection_made`.
    ///
    /// # Errors
    ///
    /// [`Error::ConnectorState`] unless it is disconnected.
    pub fn connect(&self) -> Result<()> {
        let inner = &self.inner;
        let state = inner.state.get();
        if state != ConnectorState::Disconnected {
            return Err(Error::ConnectorState {
                operation: "connect",
                destination: format!("{}:{}", inner.host, inner.port),
                state: state.name(),
            });
        }
        let Some(reactor) = inner.reactor.upgrade() else {
            return Err(Error::Reactor(tx0mq_reactor::Error::ReactorGone));
        };
        inner.state.set(ConnectorState::Connecting);
        inner.cancelled.set(false);
        let id = inner.attempt.get().wrapping_add(1);
        inner.attempt.set(id);
        self.tell_started();
        if let Some(timeout) = inner.timeout {
            let me = self.clone();
            let call = reactor.call_later(timeout, move |cx| {
                me.inner.timer.borrow_mut().take();
                me.fail_attempt(cx, id, Reason::TimedOut);
            });
            let old = inner.timer.borrow_mut().replace(call);
            if let Some(old) = old {
                let _ = old.cancel();
            }
        }
        match inner.host.parse::<IpAddr>() {
            Ok(ip) => self.begin(&reactor, id, SocketAddr::new(ip, inner.port)),
            Err(_) => self.resolve(&reactor, id),
        }
        Ok(())
    }

    /// Cancels the attempt under way (Twisted's `stopConnecting`): the
    /// factory hears `client_connection_failed(Reason::Cancelled)` on the
    /// next pass.
    ///
    /// # Errors
    ///
    /// [`Error::ConnectorState`] unless it is connecting.
    pub fn stop_connecting(&self) -> Result<()> {
        let inner = &self.inner;
        let state = inner.state.get();
        if state != ConnectorState::Connecting || inner.cancelled.get() {
            return Err(Error::ConnectorState {
                operation: "stop connecting",
                destination: format!("{}:{}", inner.host, inner.port),
                state: if state == ConnectorState::Connecting {
                    "cancelled already"
                } else {
                    state.name()
                },
            });
        }
        inner.cancelled.set(true);
        self.drop_attempt();
        let id = inner.attempt.get();
        if let Some(reactor) = inner.reactor.upgrade() {
            let me = self.clone();
            reactor.call_later(Duration::ZERO, move |cx| {
                me.fail_attempt(cx, id, Reason::Cancelled)
            });
        }
        Ok(())
    }

    /// Stops connecting, or loses the connection it made (Twisted's
    /// `disconnect`).
    pub fn disconnect(&self) {
        match self.inner.state.get() {
            ConnectorState::Connecting => {
                let _ = self.stop_connecting();
            }
            ConnectorState::Connected => {
                if let Some(transport) = self.transport() {
                    transport.lose_connection();
                }
            }
            ConnectorState::Disconnected => {}
        }
    }

    /// Where it connects: the host as given, and the port (Twisted's
    /// `getDestination`).
    pub fn get_destination(&self) -> (&str, u16) {
        (&self.inner.host, self.inner.port)
    }

    /// Where it is.
    pub fn state(&self) -> ConnectorState {
        self.inner.state.get()
    }

    /// The connection, while connected.
    pub fn transport(&self) -> Option<Transport<S>> {
        self.inner.transport.borrow().clone()
    }

    /// Calls the factory's `started_connecting` (and its `start_factory`
    /// first, when it is not started), or notes that it is owed.
    fn tell_started(&self) {
        let taken = self.inner.factory.borrow_mut().take();
        let Some(factory) = taken else {
            self.inner.started_pending.set(true);
            return;
        };
        let mut lent = LentClientFactory {
            connector: self,
            factory: Some(factory),
        };
        if let Some(factory) = lent.factory.as_mut() {
            if !self.inner.factory_started.replace(true) {
                factory.start();
            }
            factory.started(self);
        }
    }

    /// Runs `f` on the factory, taken out of its slot meanwhile; then pays
    /// what it owes (a `started_connecting` from a `connect` inside `f`).
    fn with_factory(
        &self,
        cx: &mut Ctx<'_, S>,
        f: impl FnOnce(&mut dyn AnyClientFactory<S>, &mut Ctx<'_, S>, &Connector<S>),
    ) {
        let taken = self.inner.factory.borrow_mut().take();
        let Some(factory) = taken else {
            log::error!("{self:?}: its factory is busy; an event was not delivered");
            return;
        };
        let mut lent = LentClientFactory {
            connector: self,
            factory: Some(factory),
        };
        if let Some(factory) = lent.factory.as_mut() {
            f(factory.as_mut(), cx, self);
        }
        drop(lent);
        if self.inner.started_pending.replace(false) {
            self.tell_started();
        }
    }

    /// Stops the factory once nothing connects any more.
    fn maybe_stop_factory(&self) {
        if self.inner.state.get() != ConnectorState::Disconnected
            || !self.inner.factory_started.get()
        {
            return;
        }
        let taken = self.inner.factory.borrow_mut().take();
        if let Some(factory) = taken {
            self.inner.factory_started.set(false);
            let mut lent = LentClientFactory {
                connector: self,
                factory: Some(factory),
            };
            if let Some(factory) = lent.factory.as_mut() {
                factory.stop();
            }
        }
    }

    /// Resolves the host on a helper thread; the answer comes back through
    /// the reactor's thread calls.
    fn resolve(&self, reactor: &Reactor<S>, id: u64) {
        let me = self.clone();
        let done: Resolved<S> = Box::new(move |cx, outcome| match outcome {
            Ok(addr) => me.begin(cx.reactor, id, addr),
            Err(e) => me.fail_attempt(cx, id, Reason::Failed(Arc::new(e))),
        });
        let key = RESOLVING.with(|waiting| {
            let mut waiting = waiting.borrow_mut();
            waiting.next = waiting.next.wrapping_add(1);
            let key = waiting.next;
            waiting.calls.insert(key, Box::new(done));
            key
        });
        let handle = reactor.thread_handle();
        let host = self.inner.host.clone();
        let port = self.inner.port;
        let spawned = std::thread::Builder::new()
            .name("tx0mq-resolve".to_string())
            .spawn(move || {
                let outcome = lookup(&host, port);
                // Fails only when the reactor was dropped meanwhile.
                let _ = handle.call_from_thread(move |cx| finish_lookup::<S>(cx, key, outcome));
            });
        if let Err(e) = spawned {
            let call = RESOLVING.with(|waiting| waiting.borrow_mut().calls.remove(&key));
            drop(call);
            let me = self.clone();
            let reason = Reason::Failed(Arc::new(io::Error::new(
                e.kind(),
                format!("start a thread to resolve {}: {e}", self.inner.host),
            )));
            reactor.call_later(Duration::ZERO, move |cx| me.fail_attempt(cx, id, reason));
        }
    }

    /// Starts the kernel's connect to `addr` for attempt `id`.
    fn begin(&self, reactor: &Reactor<S>, id: u64, addr: SocketAddr) {
        let inner = &self.inner;
        if inner.attempt.get() != id
            || inner.state.get() != ConnectorState::Connecting
            || inner.cancelled.get()
        {
            return;
        }
        let failure = match TcpStream::connect(addr) {
            Ok(stream) => {
                let fd = stream.as_raw_fd();
                let me = self.clone();
                match reactor.add_writer(fd, move |cx| me.on_connect_ready(cx, id)) {
                    Ok(()) => {
                        *inner.pending.borrow_mut() = Some(Attempt { stream, fd });
                        return;
                    }
                    Err(e) => reactor_failure(e),
                }
            }
            Err(e) => Reason::from_io(e),
        };
        let me = self.clone();
        reactor.call_later(Duration::ZERO, move |cx| me.fail_attempt(cx, id, failure));
    }

    /// The socket of attempt `id` is writable: connected, or failed.
    fn on_connect_ready(&self, cx: &mut Ctx<'_, S>, id: u64) {
        if self.inner.attempt.get() != id {
            return;
        }
        let status = {
            let pending = self.inner.pending.borrow();
            let Some(attempt) = pending.as_ref() else {
                return;
            };
            match attempt.stream.take_error() {
                Ok(Some(e)) | Err(e) => Err(e),
                Ok(None) => attempt.stream.peer_addr(),
            }
        };
        match status {
            Ok(peer) => self.connected(cx, peer),
            // Not connected yet: a spurious wake-up; wait for the next.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
            Err(e) => self.fail_attempt(cx, id, Reason::from_io(e)),
        }
    }

    /// Takes the attempt's socket out of the reactor, and cancels its timer.
    fn drop_attempt(&self) -> Option<TcpStream> {
        let timer = self.inner.timer.borrow_mut().take();
        if let Some(timer) = timer {
            let _ = timer.cancel();
        }
        let attempt = self.inner.pending.borrow_mut().take()?;
        if let Some(reactor) = self.inner.reactor.upgrade() {
            reactor.remove_writer(attempt.fd);
        }
        Some(attempt.stream)
    }

    fn connected(&self, cx: &mut Ctx<'_, S>, peer: SocketAddr) {
        let Some(stream) = self.drop_attempt() else {
            return;
        };
        let taken = self.inner.factory.borrow_mut().take();
        let Some(factory) = taken else {
            log::error!("{self:?}: its factory is busy; the connection is closed");
            self.inner.state.set(ConnectorState::Disconnected);
            return;
        };
        let mut lent = LentClientFactory {
            connector: self,
            factory: Some(factory),
        };
        let protocol = lent.factory.as_mut().map(|f| f.build(peer));
        drop(lent);
        let Some(protocol) = protocol else {
            return;
        };
        self.inner.state.set(ConnectorState::Connected);
        let me = self.clone();
        let hook: crate::transport::LostHook<S> =
            Box::new(move |cx, reason| me.connection_lost(cx, reason));
        let transport = tcp_transport(cx.reactor, stream, peer, protocol, Some(hook));
        // Known before connection_made, which may disconnect the connector.
        *self.inner.transport.borrow_mut() = Some(transport.clone());
        transport.core.start(cx);
    }

    fn fail_attempt(&self, cx: &mut Ctx<'_, S>, id: u64, reason: Reason) {
        if self.inner.attempt.get() != id || self.inner.state.get() != ConnectorState::Connecting {
            return;
        }
        drop(self.drop_attempt());
        self.inner.state.set(ConnectorState::Disconnected);
        log::debug!("{self:?}: connection failed: {reason}");
        self.with_factory(cx, |f, cx, me| f.failed(cx, me, &reason));
        self.maybe_stop_factory();
    }

    /// The hook its transport calls once the protocol heard of the loss.
    fn connection_lost(&self, cx: &mut Ctx<'_, S>, reason: &Reason) {
        self.inner.state.set(ConnectorState::Disconnected);
        let transport = self.inner.transport.borrow_mut().take();
        drop(transport);
        self.with_factory(cx, |f, cx, me| f.lost(cx, me, reason));
        self.maybe_stop_factory();
    }
}

impl<S: 'static> Closable<S> for ConnectorInner<S> {
    fn reactor_shutdown(self: Rc<Self>, cx: &mut Ctx<'_, S>) {
        Connector { inner: self }.shut_down(cx);
    }
}

/// A client factory taken out of its connector for a call; put back when
/// dropped, also when the call panics.
struct LentClientFactory<'a, S: 'static> {
    connector: &'a Connector<S>,
    factory: Option<Box<dyn AnyClientFactory<S>>>,
}

impl<S: 'static> Drop for LentClientFactory<'_, S> {
    fn drop(&mut self) {
        if let Some(factory) = self.factory.take() {
            *self.connector.inner.factory.borrow_mut() = Some(factory);
        }
    }
}

// ---------------------------------------------------------------------------
// Name resolution

/// What to do with a resolved address, on the reactor thread.
type Resolved<S> = Box<dyn FnOnce(&mut Ctx<'_, S>, io::Result<SocketAddr>)>;

/// The resolutions under way on this (reactor) thread, each waiting for
/// its answer from a helper thread. Their callbacks hold `Rc`s, which must
/// not cross threads, so they wait here and only a key travels.
#[derive(Default)]
struct Waiting {
    next: u64,
    /// `Resolved<S>` for the reactor's `S`, as `Any`.
    calls: HashMap<u64, Box<dyn Any>>,
}

thread_local! {
    static RESOLVING: RefCell<Waiting> = RefCell::new(Waiting::default());
}

fn finish_lookup<S: 'static>(cx: &mut Ctx<'_, S>, key: u64, outcome: io::Result<SocketAddr>) {
    let call = RESOLVING.with(|waiting| waiting.borrow_mut().calls.remove(&key));
    if let Some(done) = call.and_then(|call| call.downcast::<Resolved<S>>().ok()) {
        (*done)(cx, outcome);
    }
}

/// `host`'s first IPv4 address, else its first address (Twisted's
/// `connectTCP` resolves names with `gethostbyname`, IPv4 only).
fn lookup(host: &str, port: u16) -> io::Result<SocketAddr> {
    let addrs: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| io::Error::new(e.kind(), format!("DNS lookup failed for {host}: {e}")))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("DNS lookup failed: {host} has no address"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_prefers_ipv4_and_says_which_name_failed() {
        let addr = lookup("localhost", 80).expect("localhost resolves");
        assert!(addr.is_ipv4(), "{addr}");
        assert_eq!(addr.port(), 80);
        let e = lookup("no-such-host.invalid", 80).expect_err(".invalid never resolves");
        assert!(e.to_string().contains("no-such-host.invalid"), "{e}");
    }
}
