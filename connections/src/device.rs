//! Devices in the reactor: what pyzmq's `zmq.devices` and libzmq's
//! `zmq_proxy` / `zmq_proxy_steerable` give, without a thread blocked in
//! a C loop.
//!
//! A [`Device`] forwards every message between a frontend and a backend
//! connection, whole, from the connections' callbacks. Around that core it
//! offers what libzmq's and pyzmq's proxies offer:
//!
//! - the three classic device types ([`DeviceType`]: queue, forwarder,
//!   streamer), which, as in libzmq, differ only in the sockets they are
//!   used with;
//! - a **capture** connection that gets a copy of every forwarded message
//!   ([`DeviceBuilder::capture`], `zmq_proxy`'s third socket);
//! - a **control** connection taking `PAUSE`, `RESUME`, `TERMINATE` and
//!   `STATISTICS` ([`DeviceBuilder::control`], `zmq_proxy_steerable`),
//!   the statistics answered in libzmq's format ([`ProxyStatistics`]);
//! - a **monitor** PUB connection that gets every message with an in or out
//!   prefix frame before it ([`DeviceBuilder::monitor`], pyzmq's
//!   `MonitoredQueue`);
//! - a device on a thread of its own with its own reactor
//!   ([`ThreadDevice`], pyzmq's `ThreadDevice`).
//!
//! # Backpressure
//!
//! A device never buffers without bound. Each connection sends what libzmq
//! takes and keeps the rest in its outbox; the moment a message has to wait
//! in the outbox of a connection the device writes to (the destination, the
//! capture or the monitor), the device stops reading the side(s) feeding
//! it ([`Connection::pause_reading`](crate::Connection::pause_reading)), so further messages wait in libzmq,
//! under its high-water marks. When that outbox has drained (the device
//! registers itself as each destination's streaming producer to hear it),
//! reading resumes. The device itself drops nothing: messages are lost only
//! where ZeroMQ's own socket semantics drop them (a PUB capture or monitor
//! with a slow subscriber, a ROUTER with an unknown peer).
//!
//! ```
//! use tx0mq_connections::{Device, ZmqConnection, ZmqEndpoint, ZmqFactory};
//! use tx0mq_reactor::Reactor;
//!
//! let reactor = Reactor::builder().handle_signals(false).build()?;
//! let factory = ZmqFactory::new(&reactor)?;
//! let frontend = ZmqConnection::new(&factory, zmq::PULL, ZmqEndpoint::bind("inproc://doc-dev-in"))?;
//! let backend = ZmqConnection::new(&factory, zmq::PUSH, ZmqEndpoint::bind("inproc://doc-dev-out"))?;
//! let capture = ZmqConnection::new(&factory, zmq::PUB, ZmqEndpoint::bind("inproc://doc-dev-cap"))?;
//! let device = Device::builder(&frontend, &backend).capture(&capture).start()?;
//! assert_eq!(device.statistics().frontend.messages_in, 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use tx0mq_reactor::{Ctx, Reactor, ReactorThread};

use crate::connection::ZmqCtx;
use crate::endpoint::ZmqEndpoint;
use crate::error::{Error, Result};
use crate::factory::ZmqFactory;
use crate::frames::{bytes_repr, Frame, Multipart};
use crate::options::ZmqOptions;
use crate::pattern::ZmqConnection;

/// pyzmq's device types (`zmq.QUEUE`, `zmq.FORWARDER`, `zmq.STREAMER`).
///
/// As in libzmq (whose `zmq_device` is `zmq_proxy`), the type does not
/// change how messages are forwarded: every device forwards both ways
/// where the socket types allow it. It names the usual pair of socket types
/// ([`socket_types`](Self::socket_types)), which [`ThreadDevice::of_type`]
/// uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceType {
    /// ROUTER frontend, DEALER backend: requests out, replies back.
    Queue,
    /// SUB (or XSUB) frontend, PUB (or XPUB) backend: publications out.
    Forwarder,
    /// PULL frontend, PUSH backend: a pipeline stage.
    Streamer,
}

impl DeviceType {
    /// The usual (frontend, backend) socket types of this device type.
    ///
    /// ```
    /// use tx0mq_connections::DeviceType;
    /// assert_eq!(DeviceType::Streamer.socket_types(), (zmq::PULL, zmq::PUSH));
    /// ```
    pub fn socket_types(self) -> (zmq::SocketType, zmq::SocketType) {
        match self {
            DeviceType::Queue => (zmq::ROUTER, zmq::DEALER),
            DeviceType::Forwarder => (zmq::XSUB, zmq::XPUB),
            DeviceType::Streamer => (zmq::PULL, zmq::PUSH),
        }
    }
}

/// One side's counters, as libzmq's `zmq_proxy_steerable` keeps them:
/// whole messages and their bytes (all frames), received on this side and
/// sent out of it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SideStatistics {
    /// Messages received on this side.
    pub messages_in: u64,
    /// Bytes (all frames) received on this side.
    pub bytes_in: u64,
    /// Messages sent out of this side.
    pub messages_out: u64,
    /// Bytes (all frames) sent out of this side.
    pub bytes_out: u64,
}

/// A device's counters, as the `STATISTICS` control command answers them.
///
/// On the wire (libzmq's format): eight frames of one 64-bit unsigned
/// integer each, in the host's byte order, in this order: frontend
/// messages in, bytes in, messages out, bytes out, then the same four for
/// the backend.
///
/// ```
/// use tx0mq_connections::ProxyStatistics;
///
/// let mut stats = ProxyStatistics::default();
/// stats.frontend.messages_in = 3;
/// stats.backend.bytes_out = 42;
/// let frames = stats.to_frames();
/// assert_eq!(frames.len(), 8);
/// assert_eq!(frames[0], 3u64.to_ne_bytes());
/// assert_eq!(ProxyStatistics::from_frames(&frames)?, stats);
/// # Ok::<(), tx0mq_connections::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProxyStatistics {
    /// The frontend's counters.
    pub frontend: SideStatistics,
    /// The backend's counters.
    pub backend: SideStatistics,
}

impl ProxyStatistics {
    /// The eight counters in libzmq's order.
    pub fn counters(&self) -> [u64; 8] {
        let (f, b) = (&self.frontend, &self.backend);
        [
            f.messages_in,
            f.bytes_in,
            f.messages_out,
            f.bytes_out,
            b.messages_in,
            b.bytes_in,
            b.messages_out,
            b.bytes_out,
        ]
    }

    /// The eight frames of a `STATISTICS` reply, in libzmq's format.
    pub fn to_frames(&self) -> [[u8; 8]; 8] {
        self.counters().map(u64::to_ne_bytes)
    }

    /// Reads a `STATISTICS` reply (ours, or a libzmq proxy's).
    ///
    /// # Errors
    ///
    /// [`Error::Device`] if the reply is not eight frames of eight bytes,
    /// saying which frame is wrong.
    pub fn from_frames<F: AsRef<[u8]>>(frames: &[F]) -> Result<Self> {
        if frames.len() != 8 {
            return Err(Error::Device {
                reason: format!(
                    "a STATISTICS reply has 8 frames, this one has {}",
                    frames.len()
                ),
            });
        }
        let mut counters = [0u64; 8];
        for (i, frame) in frames.iter().enumerate() {
            let bytes: [u8; 8] = frame.as_ref().try_into().map_err(|_| Error::Device {
                reason: format!(
                    "frame {i} of a STATISTICS reply has {} bytes, not 8: {}",
                    frame.as_ref().len(),
                    bytes_repr(frame.as_ref())
                ),
            })?;
            counters[i] = u64::from_ne_bytes(bytes);
        }
        let side = |c: &[u64]| SideStatistics {
            messages_in: c[0],
            bytes_in: c[1],
            messages_out: c[2],
            bytes_out: c[3],
        };
        Ok(ProxyStatistics {
            frontend: side(&counters[..4]),
            backend: side(&counters[4..]),
        })
    }
}

/// pyzmq's `MonitoredQueue` default prefix for messages from the frontend.
pub const DEFAULT_IN_PREFIX: &[u8] = b"in";
/// pyzmq's `MonitoredQueue` default prefix for messages from the backend.
pub const DEFAULT_OUT_PREFIX: &[u8] = b"out";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    Front,
    Back,
}

struct Monitor<S: 'static> {
    conn: ZmqConnection<S>,
    in_prefix: Vec<u8>,
    out_prefix: Vec<u8>,
}

type OnTerminate<S> = Box<dyn FnOnce(&mut Ctx<'_, S>)>;

struct Inner<S: 'static> {
    name: String,
    frontend: ZmqConnection<S>,
    backend: ZmqConnection<S>,
    capture: Option<ZmqConnection<S>>,
    control: Option<ZmqConnection<S>>,
    monitor: Option<Monitor<S>>,
    /// Frontend to backend.
    forwards_front: bool,
    /// Backend to frontend.
    forwards_back: bool,
    paused: Cell<bool>,
    terminated: Cell<bool>,
    stats: Cell<ProxyStatistics>,
    /// Times a side was paused because a connection the device writes to
    /// had a backlog.
    backpressure_pauses: Cell<u64>,
    on_terminate: RefCell<Vec<OnTerminate<S>>>,
    /// Per destination (see [`Inner::destinations`]): a task waits for its
    /// outbox to drain.
    watching: [Cell<bool>; 4],
}

/// Whether a socket type can receive (PUSH and PUB cannot).
fn can_receive(kind: zmq::SocketType) -> bool {
    !matches!(kind, zmq::PUSH | zmq::PUB)
}

/// Whether a socket type can send (PULL and SUB cannot).
fn can_send(kind: zmq::SocketType) -> bool {
    !matches!(kind, zmq::PULL | zmq::SUB)
}

fn copy(message: &Multipart) -> Vec<&Frame> {
    message.iter().collect()
}

fn set_reading<S: 'static>(conn: &ZmqConnection<S>, stop: bool) {
    if stop && !conn.is_paused() {
        conn.pause_reading();
    } else if !stop && conn.is_paused() {
        conn.resume_reading();
    }
}

impl<S: 'static> Inner<S> {
    fn connection(&self, side: Side) -> &ZmqConnection<S> {
        match side {
            Side::Front => &self.frontend,
            Side::Back => &self.backend,
        }
    }

    /// Forwards a message that arrived on `from`: capture, monitor, then
    /// the other side.
    fn forward(self: &Rc<Self>, from: Side, message: Multipart) {
        let size = message.byte_len() as u64;
        let mut stats = self.stats.get();
        let (source, dest) = match from {
            Side::Front => (&mut stats.frontend, Side::Back),
            Side::Back => (&mut stats.backend, Side::Front),
        };
        source.messages_in += 1;
        source.bytes_in += size;
        if let Some(capture) = &self.capture {
            if let Err(e) = capture.send(copy(&message)) {
                log::warn!("{}: capture {capture:?} missed a message: {e}", self.name);
            }
        }
        if let Some(monitor) = &self.monitor {
            let prefix = match from {
                Side::Front => &monitor.in_prefix,
                Side::Back => &monitor.out_prefix,
            };
            let mut copied: Vec<&[u8]> = Vec::with_capacity(message.len() + 1);
            copied.push(prefix);
            copied.extend(message.iter().map(|f| &f[..]));
            if let Err(e) = monitor.conn.send(copied) {
                log::warn!(
                    "{}: monitor {:?} missed a message: {e}",
                    self.name,
                    monitor.conn
                );
            }
        }
        let target = self.connection(dest);
        match target.send(message) {
            Ok(()) => {
                let out = match dest {
                    Side::Front => &mut stats.frontend,
                    Side::Back => &mut stats.backend,
                };
                out.messages_out += 1;
                out.bytes_out += size;
            }
            Err(e) => log::warn!(
                "{}: cannot forward a message from {:?} to {target:?}: {e}",
                self.name,
                self.connection(from)
            ),
        }
        self.stats.set(stats);
        self.update();
    }

    /// Pauses or resumes each source: a source reads only while the device
    /// runs and every connection it feeds has an empty outbox.
    fn update(self: &Rc<Self>) {
        let stopped = self.paused.get() || self.terminated.get();
        let shared_backlog = self.capture.as_ref().is_some_and(|c| c.outbox_len() > 0)
            || self
                .monitor
                .as_ref()
                .is_some_and(|m| m.conn.outbox_len() > 0);
        for (on, source, dest) in [
            (self.forwards_front, &self.frontend, &self.backend),
            (self.forwards_back, &self.backend, &self.frontend),
        ] {
            if !on {
                continue;
            }
            let backlog = shared_backlog || dest.outbox_len() > 0;
            if backlog && !stopped && !source.is_paused() {
                self.backpressure_pauses
                    .set(self.backpressure_pauses.get() + 1);
            }
            set_reading(source, stopped || backlog);
        }
        self.watch_backlogs();
    }

    fn terminate(self: &Rc<Self>) {
        if self.terminated.replace(true) {
            return;
        }
        self.update();
        if let Some(control) = &self.control {
            control.pause_reading();
        }
        let callbacks = std::mem::take(&mut *self.on_terminate.borrow_mut());
        if callbacks.is_empty() {
            return;
        }
        match self.frontend.reactor() {
            Some(reactor) => {
                reactor.call_later(Duration::ZERO, move |cx: &mut Ctx<'_, S>| {
                    for callback in callbacks {
                        callback(cx);
                    }
                });
            }
            None => log::warn!("{}: terminated, but its reactor is gone", self.name),
        }
    }

    /// The connections the device writes to, by their slot in `watching`
    /// (an array: this runs after every forwarded message, and allocates
    /// nothing).
    fn destinations(&self) -> [Option<&ZmqConnection<S>>; 4] {
        [
            Some(&self.frontend).filter(|_| self.forwards_back),
            Some(&self.backend).filter(|_| self.forwards_front),
            self.capture.as_ref(),
            self.monitor.as_ref().map(|m| &m.conn),
        ]
    }

    /// For each destination with a backlog, a task (one at a time) that
    /// waits until its outbox has drained ([`Connection::send_ready`](crate::Connection::send_ready)) and
    /// then updates the sources.
    fn watch_backlogs(self: &Rc<Self>) {
        for (slot, conn) in self.destinations().into_iter().enumerate() {
            let Some(conn) = conn else {
                continue;
            };
            if conn.outbox_len() == 0 || self.watching[slot].replace(true) {
                continue;
            }
            let Some(reactor) = conn.reactor() else {
                continue;
            };
            let (device, conn) = (Rc::downgrade(self), conn.clone());
            reactor.spawn(async move {
                let drained = conn.send_ready().await;
                if let Some(device) = device.upgrade() {
                    device.watching[slot].set(false);
                    if drained.is_ok() {
                        device.update();
                    }
                }
            });
        }
    }

    /// A control command (`zmq_proxy_steerable`).
    fn command(self: &Rc<Self>, control: &ZmqConnection<S>, message: &Multipart) {
        let command = message.first().map(|f| &f[..]).unwrap_or_default();
        let rep = control.socket_type() == zmq::REP;
        let mut answered = false;
        match command {
            b"PAUSE" => {
                self.paused.set(true);
                self.update();
            }
            b"RESUME" => {
                self.paused.set(false);
                self.update();
            }
            b"TERMINATE" => {}
            b"STATISTICS" => {
                let frames = self.stats.get().to_frames();
                let frames: Vec<&[u8]> = frames.iter().map(|f| &f[..]).collect();
                if let Err(e) = control.send(frames) {
                    log::warn!(
                        "{}: cannot answer STATISTICS on {control:?}: {e}",
                        self.name
                    );
                }
                answered = true;
            }
            other => log::warn!(
                "{}: unknown control command {} on {control:?}, ignored \
                 (expected PAUSE, RESUME, TERMINATE or STATISTICS)",
                self.name,
                bytes_repr(other)
            ),
        }
        // A REP control socket must answer every command: libzmq answers
        // those without a reply of their own with an empty frame.
        if rep && !answered {
            if let Err(e) = control.send(b"") {
                log::warn!("{}: cannot answer on {control:?}: {e}", self.name);
            }
        }
        if command == b"TERMINATE" {
            self.terminate();
        }
    }
}

/// A device forwarding between two connections in the reactor (see the
/// [module](self) documentation). Cloning gives another handle to the same
/// device; dropping every handle does not stop it (the connections' callbacks
/// hold it), [`terminate`](Self::terminate) does.
pub struct Device<S: 'static = ()> {
    inner: Rc<Inner<S>>,
}

impl<S: 'static> Clone for Device<S> {
    fn clone(&self) -> Self {
        Device {
            inner: Rc::clone(&self.inner),
        }
    }
}

impl<S: 'static> fmt::Debug for Device<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Device")
            .field("name", &self.inner.name)
            .field("paused", &self.inner.paused.get())
            .field("terminated", &self.inner.terminated.get())
            .finish()
    }
}

/// What [`Device::builder`] returns: add a capture, a control or a monitor,
/// then [`start`](Self::start).
pub struct DeviceBuilder<S: 'static = ()> {
    frontend: ZmqConnection<S>,
    backend: ZmqConnection<S>,
    capture: Option<ZmqConnection<S>>,
    control: Option<ZmqConnection<S>>,
    monitor: Option<Monitor<S>>,
}

impl<S: 'static> fmt::Debug for DeviceBuilder<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceBuilder")
            .field("frontend", &self.frontend)
            .field("backend", &self.backend)
            .field("capture", &self.capture)
            .field("control", &self.control)
            .field("monitor", &self.monitor.as_ref().map(|m| &m.conn))
            .finish()
    }
}

impl<S: 'static> DeviceBuilder<S> {
    /// Sends a copy of every forwarded message, whole, to `capture` (the
    /// capture socket of `zmq_proxy`: a PUB, PUSH, PAIR or DEALER).
    pub fn capture(mut self, capture: &ZmqConnection<S>) -> Self {
        self.capture = Some(capture.clone());
        self
    }

    /// Takes `PAUSE`, `RESUME`, `TERMINATE` and `STATISTICS` on `control`
    /// (a REP or PAIR connection, as `zmq_proxy_steerable`'s). On REP,
    /// every command is answered: `STATISTICS` with its eight frames, the
    /// others with an empty frame. An unknown command is logged, naming
    /// it, and ignored. Replaces `control`'s protocol.
    pub fn control(mut self, control: &ZmqConnection<S>) -> Self {
        self.control = Some(control.clone());
        self
    }

    /// Copies every message to `monitor` (a PUB, as pyzmq's
    /// `MonitoredQueue`) with a first frame `in_prefix` for messages from
    /// the frontend and `out_prefix` for those from the backend (pyzmq's
    /// defaults: [`DEFAULT_IN_PREFIX`], [`DEFAULT_OUT_PREFIX`]).
    pub fn monitor(
        mut self,
        monitor: &ZmqConnection<S>,
        in_prefix: impl Into<Vec<u8>>,
        out_prefix: impl Into<Vec<u8>>,
    ) -> Self {
        self.monitor = Some(Monitor {
            conn: monitor.clone(),
            in_prefix: in_prefix.into(),
            out_prefix: out_prefix.into(),
        });
        self
    }

    /// Starts forwarding: replaces the frontend's and backend's protocols
    /// (and the control's). Producers registered on the connections stay.
    ///
    /// # Errors
    ///
    /// [`Error::Device`] if no message could flow (neither side can
    /// receive what the other can send: a PUSH frontend and a PULL
    /// backend), or if a capture or monitor cannot send, or the control is
    /// neither REP nor PAIR; [`Error::Closed`] if a connection was shut
    /// down.
    pub fn start(self) -> Result<Device<S>> {
        let (front, back) = (self.frontend.socket_type(), self.backend.socket_type());
        // One connection as both sides (pyzmq's out_type -1): each message
        // goes back out where it came from, counted in on the frontend and
        // out on the backend, as zmq_proxy(socket, socket) counts.
        let echo = Rc::ptr_eq(&self.frontend.core, &self.backend.core);
        let forwards_front = can_receive(front) && can_send(back);
        let forwards_back = !echo && can_receive(back) && can_send(front);
        let name = format!("device {front:?}<->{back:?}");
        if !forwards_front && !forwards_back {
            return Err(Error::Device {
                reason: format!(
                    "{name}: no message can flow between {:?} and {:?}",
                    self.frontend, self.backend
                ),
            });
        }
        for (what, conn) in [
            ("capture", self.capture.as_ref()),
            ("monitor", self.monitor.as_ref().map(|m| &m.conn)),
        ] {
            if let Some(conn) = conn.filter(|c| !can_send(c.socket_type())) {
                return Err(Error::Device {
                    reason: format!("{name}: the {what} {conn:?} cannot send"),
                });
            }
        }
        if let Some(control) = self
            .control
            .as_ref()
            .filter(|c| !matches!(c.socket_type(), zmq::REP | zmq::PAIR))
        {
            return Err(Error::Device {
                reason: format!("{name}: the control {control:?} is neither REP nor PAIR"),
            });
        }
        let inner = Rc::new(Inner {
            name,
            frontend: self.frontend,
            backend: self.backend,
            capture: self.capture,
            control: self.control,
            monitor: self.monitor,
            forwards_front,
            forwards_back,
            paused: Cell::new(false),
            terminated: Cell::new(false),
            stats: Cell::new(ProxyStatistics::default()),
            backpressure_pauses: Cell::new(0),
            on_terminate: RefCell::new(Vec::new()),
            watching: Default::default(),
        });
        for (on, side) in [(forwards_front, Side::Front), (forwards_back, Side::Back)] {
            if on {
                let device = Rc::clone(&inner);
                inner
                    .connection(side)
                    .set_protocol(Forward { device, side })?;
            }
        }
        if let Some(control) = &inner.control {
            let device = Rc::clone(&inner);
            control.set_protocol(Control { device })?;
        }
        Ok(Device { inner })
    }
}

struct Forward<S: 'static> {
    device: Rc<Inner<S>>,
    side: Side,
}

impl<S: 'static> crate::pattern::ZmqProtocol<S> for Forward<S> {
    fn message_received(&mut self, _cx: &mut ZmqCtx<'_, S, ZmqConnection<S>>, message: Multipart) {
        self.device.forward(self.side, message);
    }
}

struct Control<S: 'static> {
    device: Rc<Inner<S>>,
}

impl<S: 'static> crate::pattern::ZmqProtocol<S> for Control<S> {
    fn message_received(&mut self, cx: &mut ZmqCtx<'_, S, ZmqConnection<S>>, message: Multipart) {
        self.device.command(cx.conn, &message);
    }
}

impl<S: 'static> Device<S> {
    /// A device between `frontend` and `backend`, to add a capture, a
    /// control or a monitor to before [`start`](DeviceBuilder::start).
    ///
    /// `frontend` and `backend` may be one connection (pyzmq's device with
    /// `out_type` -1): then every message it receives is sent back on it,
    /// an echo (a REP answering each request with the request itself).
    pub fn builder(frontend: &ZmqConnection<S>, backend: &ZmqConnection<S>) -> DeviceBuilder<S> {
        DeviceBuilder {
            frontend: frontend.clone(),
            backend: backend.clone(),
            capture: None,
            control: None,
            monitor: None,
        }
    }

    /// `zmq_proxy(frontend, backend, NULL)`: forwards both ways, now.
    ///
    /// # Errors
    ///
    /// As for [`DeviceBuilder::start`].
    pub fn proxy(frontend: &ZmqConnection<S>, backend: &ZmqConnection<S>) -> Result<Self> {
        Self::builder(frontend, backend).start()
    }

    /// pyzmq's `zmq.device(device_type, frontend, backend)`: as
    /// [`proxy`](Self::proxy), whatever the type (see [`DeviceType`]).
    ///
    /// # Errors
    ///
    /// As for [`DeviceBuilder::start`].
    pub fn of_type(
        _device_type: DeviceType,
        frontend: &ZmqConnection<S>,
        backend: &ZmqConnection<S>,
    ) -> Result<Self> {
        Self::proxy(frontend, backend)
    }

    /// pyzmq's `monitored_queue(in, out, mon, in_prefix, out_prefix)`.
    ///
    /// ```
    /// use tx0mq_connections::{Device, ZmqConnection, ZmqEndpoint, ZmqFactory};
    /// use tx0mq_reactor::Reactor;
    ///
    /// let reactor = Reactor::builder().handle_signals(false).build()?;
    /// let factory = ZmqFactory::new(&reactor)?;
    /// let ins = ZmqConnection::new(&factory, zmq::ROUTER, ZmqEndpoint::bind("inproc://doc-mq-in"))?;
    /// let outs = ZmqConnection::new(&factory, zmq::DEALER, ZmqEndpoint::bind("inproc://doc-mq-out"))?;
    /// let mon = ZmqConnection::new(&factory, zmq::PUB, ZmqEndpoint::bind("inproc://doc-mq-mon"))?;
    /// Device::monitored_queue(&ins, &outs, &mon, b"in", b"out")?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As for [`DeviceBuilder::start`].
    pub fn monitored_queue(
        frontend: &ZmqConnection<S>,
        backend: &ZmqConnection<S>,
        monitor: &ZmqConnection<S>,
        in_prefix: &[u8],
        out_prefix: &[u8],
    ) -> Result<Self> {
        Self::builder(frontend, backend)
            .monitor(monitor, in_prefix, out_prefix)
            .start()
    }

    /// The counters `STATISTICS` answers with.
    pub fn statistics(&self) -> ProxyStatistics {
        self.inner.stats.get()
    }

    /// How many times a side stopped reading because a connection the
    /// device writes to could not take more (its outbox held a message).
    pub fn backpressure_pauses(&self) -> u64 {
        self.inner.backpressure_pauses.get()
    }

    /// Stops forwarding, as the `PAUSE` command: messages wait in libzmq.
    pub fn pause(&self) {
        self.inner.paused.set(true);
        self.inner.update();
    }

    /// Forwards again after [`pause`](Self::pause), as `RESUME`.
    pub fn resume(&self) {
        self.inner.paused.set(false);
        self.inner.update();
    }

    /// True while paused (by [`pause`](Self::pause) or `PAUSE`).
    pub fn is_paused(&self) -> bool {
        self.inner.paused.get()
    }

    /// Ends the device, as `TERMINATE`: it reads no more from any of its
    /// connections (they stay open: shut them down when done with them),
    /// and the [`on_terminate`](Self::on_terminate) callbacks run on the
    /// next reactor pass. Calling it again does nothing.
    pub fn terminate(&self) {
        self.inner.terminate();
    }

    /// True once terminated.
    pub fn is_terminated(&self) -> bool {
        self.inner.terminated.get()
    }

    /// Calls `f` (once, on a reactor pass) when the device is terminated,
    /// by [`terminate`](Self::terminate) or a `TERMINATE` command: where
    /// `zmq_proxy_steerable` would return. Called on the next pass if it
    /// already is.
    pub fn on_terminate(&self, f: impl FnOnce(&mut Ctx<'_, S>) + 'static) {
        if self.inner.terminated.get() {
            if let Some(reactor) = self.inner.frontend.reactor() {
                reactor.call_later(Duration::ZERO, f);
            }
            return;
        }
        self.inner.on_terminate.borrow_mut().push(Box::new(f));
    }
}

/// What the reactor of a [`ThreadDevice`] keeps: its device.
#[derive(Default)]
struct ThreadState {
    device: Option<Device<ThreadState>>,
}

/// The sockets of a [`ThreadDevice`]: each one's type, endpoints, socket
/// options and (for a SUB) subscriptions.
#[derive(Clone, Debug)]
struct SocketPlan {
    kind: zmq::SocketType,
    endpoints: Vec<ZmqEndpoint>,
    options: Option<ZmqOptions>,
    subscriptions: Vec<Vec<u8>>,
}

impl SocketPlan {
    fn new(kind: zmq::SocketType) -> Self {
        Self::with_endpoints(kind, Vec::new())
    }

    fn with_endpoints(kind: zmq::SocketType, endpoints: Vec<ZmqEndpoint>) -> Self {
        SocketPlan {
            kind,
            endpoints,
            options: None,
            subscriptions: Vec::new(),
        }
    }

    /// The connection, subscribed before it binds or connects.
    fn open(&self, factory: &ZmqFactory<ThreadState>) -> Result<ZmqConnection<ThreadState>> {
        let options = self.subscriptions.iter().fold(
            self.options.clone().unwrap_or_default(),
            |options, prefix| options.subscribe(prefix),
        );
        ZmqConnection::with_options(factory, self.kind, self.endpoints.clone(), &options)
    }
}

/// A device on a thread of its own, with its own reactor and its own
/// connections (pyzmq's `ThreadDevice`, `ThreadProxy`,
/// `ThreadMonitoredQueue` and `ThreadProxySteerable`), started and stopped
/// from the main reactor.
///
/// Configure the sockets (`bind_in`, `connect_out`, ...), then
/// [`start`](Self::start) it with a factory whose ZeroMQ context its
/// sockets share (so `inproc://` endpoints work between the two reactors).
/// [`start`](Self::start) returns once every socket is bound and connected.
/// A `TERMINATE` on its control ends the thread; [`stop`](Self::stop) (or
/// dropping it) stops its reactor and waits for it.
///
/// ```
/// use tx0mq_connections::{ThreadDevice, DeviceType, ZmqFactory};
/// use tx0mq_reactor::Reactor;
///
/// let reactor = Reactor::builder().handle_signals(false).build()?;
/// let factory = ZmqFactory::new(&reactor)?;
/// let mut device = ThreadDevice::of_type(DeviceType::Streamer);
/// device.bind_in("inproc://doc-thread-in").bind_out("inproc://doc-thread-out");
/// device.start(&factory)?;
/// assert!(device.is_running());
/// device.stop()?;
/// assert!(!device.is_running());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ThreadDevice {
    frontend: SocketPlan,
    backend: SocketPlan,
    /// One socket as both sides (pyzmq's `out_type` -1).
    echo: bool,
    capture: Option<SocketPlan>,
    control: Option<SocketPlan>,
    monitor: Option<(SocketPlan, Vec<u8>, Vec<u8>)>,
    thread: Option<ReactorThread<ThreadState>>,
}

impl fmt::Debug for ThreadDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadDevice")
            .field("frontend", &self.frontend)
            .field("backend", &self.backend)
            .field("running", &self.is_running())
            .finish()
    }
}

impl ThreadDevice {
    /// A device between a frontend of `in_type` and a backend of
    /// `out_type` (pyzmq's `ThreadDevice(device_type, in_type, out_type)`;
    /// the device type changes nothing, see [`DeviceType`]).
    pub fn new(in_type: zmq::SocketType, out_type: zmq::SocketType) -> Self {
        ThreadDevice {
            frontend: SocketPlan::new(in_type),
            backend: SocketPlan::new(out_type),
            echo: false,
            capture: None,
            control: None,
            monitor: None,
            thread: None,
        }
    }

    /// A device with the usual socket types of `device_type`.
    pub fn of_type(device_type: DeviceType) -> Self {
        let (in_type, out_type) = device_type.socket_types();
        Self::new(in_type, out_type)
    }

    /// A device with one socket of `kind` as both sides, sending each
    /// message back where it came from (pyzmq's `ThreadDevice(type,
    /// in_type, -1)`; a REP echo server). `bind_out`, `connect_out`,
    /// `options_out` and `subscribe_out` apply to that one socket too.
    ///
    /// ```
    /// use tx0mq_connections::{ThreadDevice, ZmqConnection, ZmqEndpoint, ZmqFactory};
    /// use tx0mq_reactor::Reactor;
    ///
    /// let reactor = Reactor::builder().handle_signals(false).build()?;
    /// let factory = ZmqFactory::new(&reactor)?;
    /// let mut echo = ThreadDevice::echo(zmq::REP);
    /// echo.bind_in("inproc://doc-thread-echo");
    /// echo.start(&factory)?;
    /// let socket = factory.context()?.socket(zmq::REQ)?;
    /// socket.connect("inproc://doc-thread-echo")?;
    /// socket.send("ping", 0)?;
    /// assert_eq!(socket.recv_bytes(0)?, b"ping");
    /// echo.stop()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn echo(kind: zmq::SocketType) -> Self {
        let mut device = Self::new(kind, kind);
        device.echo = true;
        device
    }

    /// Socket options for the frontend (pyzmq's `setsockopt_in`), applied
    /// before it binds or connects.
    pub fn options_in(&mut self, options: &ZmqOptions) -> &mut Self {
        self.frontend.options = Some(options.clone());
        self
    }

    /// Socket options for the backend (pyzmq's `setsockopt_out`), applied
    /// before it binds or connects.
    pub fn options_out(&mut self, options: &ZmqOptions) -> &mut Self {
        self.backend.options = Some(options.clone());
        self
    }

    /// Subscribes a SUB frontend to messages starting with `prefix`
    /// (pyzmq's `setsockopt_in(zmq.SUBSCRIBE, prefix)`; `b""` is
    /// everything). Starting fails if the frontend is not a SUB.
    pub fn subscribe_in(&mut self, prefix: impl AsRef<[u8]>) -> &mut Self {
        self.frontend.subscriptions.push(prefix.as_ref().to_vec());
        self
    }

    /// Subscribes a SUB backend (pyzmq's `setsockopt_out(zmq.SUBSCRIBE,
    /// prefix)`).
    pub fn subscribe_out(&mut self, prefix: impl AsRef<[u8]>) -> &mut Self {
        self.backend.subscriptions.push(prefix.as_ref().to_vec());
        self
    }

    /// Binds the frontend to `address` (pyzmq's `bind_in`).
    pub fn bind_in(&mut self, address: impl Into<String>) -> &mut Self {
        self.frontend.endpoints.push(ZmqEndpoint::bind(address));
        self
    }

    /// Connects the frontend to `address` (pyzmq's `connect_in`).
    pub fn connect_in(&mut self, address: impl Into<String>) -> &mut Self {
        self.frontend.endpoints.push(ZmqEndpoint::connect(address));
        self
    }

    /// Binds the backend to `address` (pyzmq's `bind_out`).
    pub fn bind_out(&mut self, address: impl Into<String>) -> &mut Self {
        self.backend.endpoints.push(ZmqEndpoint::bind(address));
        self
    }

    /// Connects the backend to `address` (pyzmq's `connect_out`).
    pub fn connect_out(&mut self, address: impl Into<String>) -> &mut Self {
        self.backend.endpoints.push(ZmqEndpoint::connect(address));
        self
    }

    /// Adds a capture of `kind` on `endpoints` (pyzmq's `ThreadProxy`
    /// with `bind_mon`/`connect_mon`).
    pub fn capture(&mut self, kind: zmq::SocketType, endpoints: &[ZmqEndpoint]) -> &mut Self {
        self.capture = Some(SocketPlan::with_endpoints(kind, endpoints.to_vec()));
        self
    }

    /// Adds a control of `kind` (REP or PAIR) on `endpoints` (pyzmq's
    /// `ThreadProxySteerable` with `bind_ctrl`/`connect_ctrl`).
    pub fn control(&mut self, kind: zmq::SocketType, endpoints: &[ZmqEndpoint]) -> &mut Self {
        self.control = Some(SocketPlan::with_endpoints(kind, endpoints.to_vec()));
        self
    }

    /// Adds a PUB monitor on `endpoints` with these prefixes (pyzmq's
    /// `ThreadMonitoredQueue`).
    pub fn monitor(
        &mut self,
        endpoints: &[ZmqEndpoint],
        in_prefix: &[u8],
        out_prefix: &[u8],
    ) -> &mut Self {
        self.monitor = Some((
            SocketPlan::with_endpoints(zmq::PUB, endpoints.to_vec()),
            in_prefix.to_vec(),
            out_prefix.to_vec(),
        ));
        self
    }

    /// Starts the device's thread: a reactor whose factory shares
    /// `factory`'s context opens the sockets, starts the device and runs.
    /// Returns once the sockets are bound and connected.
    ///
    /// # Errors
    ///
    /// [`Error::Device`] if it is running already;
    /// [`Error::Closed`] if `factory` was shut down; [`Error::Reactor`]
    /// (a reactor-thread error, with the reason: a socket that could not
    /// be bound, say) if the thread could not start its device.
    pub fn start<S: 'static>(&mut self, factory: &ZmqFactory<S>) -> Result<()> {
        if self.is_running() {
            return Err(Error::Device {
                reason: "this thread device is running already".to_string(),
            });
        }
        let context = factory.context()?;
        let (mut frontend, mut backend) = (self.frontend.clone(), self.backend.clone());
        let echo = self.echo;
        if echo {
            // One socket: the backend's endpoints, options and
            // subscriptions are the frontend's too.
            frontend.endpoints.append(&mut backend.endpoints);
            frontend.subscriptions.append(&mut backend.subscriptions);
            if backend.options.is_some() {
                frontend.options = backend.options.take();
            }
        }
        let (capture, control, monitor) = (
            self.capture.clone(),
            self.control.clone(),
            self.monitor.clone(),
        );
        let name = format!("device {:?}<->{:?}", frontend.kind, backend.kind);
        let thread = ReactorThread::spawn(name, move || -> Result<Reactor<ThreadState>> {
            let reactor = Reactor::builder()
                .state(ThreadState::default())
                .handle_signals(false)
                .build()?;
            let factory = ZmqFactory::with_context(&reactor, context);
            factory.register_for_shutdown();
            let front = frontend.open(&factory)?;
            let back = if echo {
                front.clone()
            } else {
                backend.open(&factory)?
            };
            let mut builder = Device::builder(&front, &back);
            if let Some(plan) = capture {
                builder = builder.capture(&plan.open(&factory)?);
            }
            if let Some(plan) = control {
                builder = builder.control(&plan.open(&factory)?);
            }
            if let Some((plan, in_prefix, out_prefix)) = monitor {
                builder = builder.monitor(&plan.open(&factory)?, in_prefix, out_prefix);
            }
            let device = builder.start()?;
            device.on_terminate(|cx| {
                if let Err(e) = cx.reactor.stop() {
                    log::warn!("stop a terminated thread device: {e}");
                }
            });
            reactor.access_state(|state| state.device = Some(device))?;
            Ok(reactor)
        })?;
        self.thread = Some(thread);
        Ok(())
    }

    /// True between [`start`](Self::start) and the end of its thread
    /// ([`stop`](Self::stop), or a `TERMINATE` on its control).
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// The device's counters, read on its thread (waits for that thread's
    /// reactor to answer; `None` if it is not running).
    pub fn statistics(&self) -> Option<ProxyStatistics> {
        let thread = self.thread.as_ref()?;
        thread
            .handle()
            .blocking_call_from_thread(|cx| cx.state.device.as_ref().map(Device::statistics))
            .ok()
            .flatten()
    }

    /// Stops the device's reactor and waits for its thread. Does nothing
    /// if it is not running.
    ///
    /// # Errors
    ///
    /// [`Error::Reactor`] if the thread's reactor failed.
    pub fn stop(&mut self) -> Result<()> {
        match self.thread.take() {
            Some(thread) => Ok(thread.stop_and_join()?),
            None => Ok(()),
        }
    }
}
