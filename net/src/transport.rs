//! [`Transport`]: one byte-stream connection in the reactor (a TCP socket,
//! the process's standard input and output, or a test's string transport),
//! and the machinery they share: reading into the protocol, the bounded
//! write buffer, closing, producers.
//!
//! # How a transport sits on the reactor (the edge-trigger rule)
//!
//! mio registers every descriptor edge-triggered: epoll reports a change of
//! readiness once, and a descriptor that stays readable is not reported
//! again. A transport never waits on an edge that has already passed:
//!
//! 1. **Reads** go through the reactor's `add_reader`, which re-arms the
//!    descriptor (`EPOLL_CTL_MOD`) after every call, so epoll reports it
//!    again on the next poll if it is still readable. The reader reads
//!    until `WouldBlock`, end-of-file, an error, or until it has made
//!    [`READ_BUDGET`] reads (one flooding peer does not starve the rest of
//!    the loop); in every case but `WouldBlock` data may remain, and the
//!    re-arm brings the reader back on the next pass. Pausing removes the
//!    reader; resuming adds it again, which registers the descriptor
//!    afresh, so data that arrived while paused is reported at once.
//! 2. **Writes** go to the kernel at once when nothing is buffered, until
//!    the kernel takes all or says `WouldBlock` (one piece with a plain
//!    `write`, several with one `writev`; neither allocates). The rest waits, in order,
//!    in the write buffer, and only then is a writer registered; the
//!    writer writes until `WouldBlock` or the buffer is empty, and removes
//!    itself when it is. A writer is never registered with nothing to
//!    write (but for a pull producer, which asks to be told when it may
//!    write), so a writable socket costs nothing.
//! 3. **Closing** deregisters the descriptor before closing it, and calls
//!    user code (`stop_producing`, `connection_lost`, the client factory)
//!    only after every piece of the transport's own state says "closed".
//!
//! User code is never called from inside `write`, `lose_connection` or any
//! other method of a transport: what those cause (the loss of the
//! connection, a producer's pause) reaches user code from the reactor, on
//! this pass or the next.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::io::{self, IoSlice};
use std::os::fd::RawFd;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::time::Duration;

use tx0mq_reactor::{Ctx, Reactor, WeakReactor};

use crate::address::Address;
use crate::buffer::{slices_after, WriteBuffer};
use crate::error::{Error, Reason, Result};
use crate::protocol::{AfterEof, NetCtx, Producer, Protocol};
use crate::shutdown::{self, Closable, Membership, Rank};

/// Bytes read per `read` call: the size of a transport's read buffer.
pub const READ_CHUNK: usize = 64 * 1024;

/// Reads a transport makes per reactor pass at most (1 MiB with
/// [`READ_CHUNK`]); with more waiting it is called again on the next pass.
pub const READ_BUDGET: usize = 16;

/// The default limit of a transport's write buffer, in bytes: past it,
/// `write` fails with [`Error::WriteBufferFull`] (see
/// [`Transport::set_write_buffer_limit`]).
pub const DEFAULT_WRITE_BUFFER_LIMIT: usize = 64 << 20;

/// The default high-water mark for producers (Twisted's `bufferSize`): a
/// streaming producer is paused when more than this waits for the kernel.
pub const DEFAULT_PRODUCER_HIGH_WATER: usize = 64 << 10;

thread_local! {
    /// The read buffer of this thread's transports (see `Core::on_readable`).
    static READ_BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// The byte stream under a transport.
pub(crate) trait Channel {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize>;
    /// One piece: `send` on a socket, cheaper in the kernel than a
    /// one-piece `writev`.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }
    /// Shuts the write direction (the peer reads end-of-file).
    fn shutdown_write(&mut self) -> io::Result<()>;
    /// For a write side the reactor cannot watch: whether a write may be
    /// tried now (a test's string transport says no while it refuses).
    fn writable_now(&self) -> bool {
        true
    }
    fn set_nodelay(&self, _on: bool) -> io::Result<()> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "not a TCP connection",
        ))
    }
}

/// How a transport learns its input is readable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReadSide {
    /// A reader on this descriptor.
    Poll(RawFd),
    /// A descriptor epoll refuses (a regular file, `/dev/null`): it never
    /// blocks, so it is read on every pass until end-of-file.
    Continuous,
    /// Nothing reads: a test delivers the data (string transport).
    Manual,
}

/// How a transport learns its output is writable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WriteSide {
    /// A writer on this descriptor, while something waits.
    Poll(RawFd),
    /// A descriptor that never blocks (a regular file), or a string
    /// transport: retried on the next pass when the channel says it may be.
    Direct,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    /// Reading and writing.
    Open,
    /// `lose_connection` (or end-of-file): flushing, then closing. Writes
    /// are still taken and flushed, as Twisted does.
    Closing,
    /// `abort_connection`, a failed write, a panicking protocol: closes on
    /// the next pass, buffered data dropped, no more writes.
    Aborting,
    Closed,
}

/// Called when the connection is gone, after the protocol heard it (the
/// client factory's hook).
pub(crate) type LostHook<S> = Box<dyn FnOnce(&mut Ctx<'_, S>, &Reason)>;

struct ProducerSlot<S: 'static> {
    /// Out of the slot while it runs.
    producer: Option<Box<dyn Producer<S>>>,
    registered: bool,
    streaming: bool,
    paused: bool,
    /// Bumped by every (un)registration, so a producer that unregisters
    /// itself while it runs is not put back.
    serial: u64,
}

/// What a transport is made of (see [`Core::new`]).
pub(crate) struct Parts<'a, S: 'static> {
    pub(crate) reactor: &'a Reactor<S>,
    /// `"TCP connection"`, `"standard I/O"`, ...: names it in logs and errors.
    pub(crate) kind: &'static str,
    pub(crate) peer: Address,
    pub(crate) host: Address,
    pub(crate) channel: Box<dyn Channel>,
    pub(crate) read_side: ReadSide,
    pub(crate) write_side: WriteSide,
    pub(crate) protocol: Box<dyn Protocol<S>>,
    pub(crate) on_lost: Option<LostHook<S>>,
}

/// One transport's state. [`Transport`] is a handle to it; the reactor's
/// reader and writer closures hold it too, so a connection lives as long
/// as it is open, whoever else lets go.
pub(crate) struct Core<S: 'static> {
    reactor: WeakReactor<S>,
    kind: &'static str,
    peer: Address,
    host: Address,
    /// `None` once closed (dropping it closes the descriptors).
    channel: RefCell<Option<Box<dyn Channel>>>,
    read_side: Cell<ReadSide>,
    write_side: WriteSide,
    /// Out of its slot while it runs, and gone once it heard the loss.
    protocol: RefCell<Option<Box<dyn Protocol<S>>>>,
    protocol_out: Cell<bool>,
    /// `connection_made` was delivered.
    made: Cell<bool>,
    status: Cell<Status>,
    /// What `connection_lost` will be told, while closing or aborting.
    reason: RefCell<Option<Reason>>,
    /// What it was told, once closed (for the error of a later write).
    closed_with: RefCell<Option<Reason>>,
    /// A farewell waiting for the protocol to come back to its slot.
    lost_pending: RefCell<Option<Farewell<S>>>,
    close_scheduled: Cell<bool>,
    reader_on: Cell<bool>,
    writer_on: Cell<bool>,
    /// A continuous read or a direct write is scheduled for the next pass.
    continuous_scheduled: Cell<bool>,
    direct_scheduled: Cell<bool>,
    resume_scheduled: Cell<bool>,
    drive_scheduled: Cell<bool>,
    write_close_scheduled: Cell<bool>,
    paused: Cell<bool>,
    read_closed: Cell<bool>,
    write_closing: Cell<bool>,
    write_closed: Cell<bool>,
    out: RefCell<WriteBuffer>,
    limit: Cell<usize>,
    high_water: Cell<usize>,
    producer: RefCell<ProducerSlot<S>>,
    on_lost: RefCell<Option<LostHook<S>>>,
    /// Its place among what the reactor's shutdown closes, until closed.
    membership: RefCell<Option<Membership<S>>>,
}

impl<S: 'static> Core<S> {
    pub(crate) fn new(parts: Parts<'_, S>) -> Rc<Self> {
        let core = Rc::new(Core {
            reactor: parts.reactor.downgrade(),
            kind: parts.kind,
            peer: parts.peer,
            host: parts.host,
            channel: RefCell::new(Some(parts.channel)),
            read_side: Cell::new(parts.read_side),
            write_side: parts.write_side,
            protocol: RefCell::new(Some(parts.protocol)),
            protocol_out: Cell::new(false),
            made: Cell::new(false),
            status: Cell::new(Status::Open),
            reason: RefCell::new(None),
            closed_with: RefCell::new(None),
            lost_pending: RefCell::new(None),
            close_scheduled: Cell::new(false),
            reader_on: Cell::new(false),
            writer_on: Cell::new(false),
            continuous_scheduled: Cell::new(false),
            direct_scheduled: Cell::new(false),
            resume_scheduled: Cell::new(false),
            drive_scheduled: Cell::new(false),
            write_close_scheduled: Cell::new(false),
            paused: Cell::new(false),
            read_closed: Cell::new(false),
            write_closing: Cell::new(false),
            write_closed: Cell::new(false),
            out: RefCell::new(WriteBuffer::default()),
            limit: Cell::new(DEFAULT_WRITE_BUFFER_LIMIT),
            high_water: Cell::new(DEFAULT_PRODUCER_HIGH_WATER),
            producer: RefCell::new(ProducerSlot {
                producer: None,
                registered: false,
                streaming: true,
                paused: false,
                serial: 0,
            }),
            on_lost: RefCell::new(parts.on_lost),
            membership: RefCell::new(None),
        });
        // The reactor's shutdown closes the connections it watches; a
        // string transport (read by hand) belongs to its test.
        if parts.read_side != ReadSide::Manual {
            let me: Weak<dyn Closable<S>> = Rc::downgrade(&core) as Weak<Core<S>>;
            *core.membership.borrow_mut() = shutdown::join(parts.reactor, Rank::Connection, me);
        }
        core
    }

    /// `TCP connection with 127.0.0.1:8000`, `standard I/O`: for logs and errors.
    pub(crate) fn describe(&self) -> String {
        match self.peer {
            Address::Pipe => self.kind.to_string(),
            peer => format!("{} with {peer}", self.kind),
        }
    }

    fn reactor(&self) -> Option<Reactor<S>> {
        self.reactor.upgrade()
    }

    fn handle(self: &Rc<Self>) -> Transport<S> {
        Transport { core: self.clone() }
    }

    // ------------------------------------------------------------------
    // Starting

    /// Starts reading and delivers `connection_made`, from a reactor callback.
    pub(crate) fn start(self: &Rc<Self>, cx: &mut Ctx<'_, S>) {
        self.start_reading();
        self.ensure_made(cx);
    }

    /// Starts reading, and delivers `connection_made` at once if the
    /// reactor's state is free (outside its callbacks), else early on the
    /// next pass (before any data: reading delivers it first if needed).
    pub(crate) fn start_detached(self: &Rc<Self>) {
        self.start_reading();
        let Some(reactor) = self.reactor() else {
            return;
        };
        let made = reactor.with_ctx(|cx| self.ensure_made(cx));
        if made.is_err() {
            let core = self.clone();
            reactor.call_later(Duration::ZERO, move |cx| core.ensure_made(cx));
        }
    }

    pub(crate) fn ensure_made(self: &Rc<Self>, cx: &mut Ctx<'_, S>) {
        if self.made.replace(true) {
            return;
        }
        self.call_protocol(cx, |p, ncx| p.connection_made(ncx));
    }

    // ------------------------------------------------------------------
    // Calling the protocol

    /// Calls the protocol with `f`, taking it out of its slot meanwhile.
    /// `None` if there is no protocol (gone, or already running).
    fn call_protocol<R>(
        self: &Rc<Self>,
        cx: &mut Ctx<'_, S>,
        f: impl FnOnce(&mut dyn Protocol<S>, &mut NetCtx<'_, S>) -> R,
    ) -> Option<R> {
        let taken = self.protocol.borrow_mut().take();
        let protocol = taken?;
        self.protocol_out.set(true);
        let mut lent = Lent {
            core: self,
            protocol: Some(protocol),
        };
        let transport = self.handle();
        let result = lent.protocol.as_mut().map(|p| {
            let mut ncx = NetCtx {
                reactor: cx.reactor,
                state: &mut *cx.state,
                transport: &transport,
            };
            f(p.as_mut(), &mut ncx)
        });
        lent.give_back(cx);
        result
    }

    // ------------------------------------------------------------------
    // Reading

    fn reading(&self) -> bool {
        self.status.get() == Status::Open && !self.paused.get() && !self.read_closed.get()
    }

    fn start_reading(self: &Rc<Self>) {
        if !self.reading() {
            return;
        }
        match self.read_side.get() {
            ReadSide::Poll(fd) => {
                if self.reader_on.get() {
                    return;
                }
                let Some(reactor) = self.reactor() else {
                    return;
                };
                let core = self.clone();
                match reactor.add_reader(fd, move |cx| {
                    core.on_readable(cx);
                }) {
                    Ok(()) => self.reader_on.set(true),
                    Err(e) if not_pollable(&e) => {
                        // A regular file or /dev/null: it never blocks.
                        self.read_side.set(ReadSide::Continuous);
                        self.start_reading();
                    }
                    Err(e) => {
                        log::error!("{}: cannot watch for input: {e}", self.describe());
                        self.abort(reactor_failure(e));
                    }
                }
            }
            ReadSide::Continuous => {
                if self.continuous_scheduled.replace(true) {
                    return;
                }
                let Some(reactor) = self.reactor() else {
                    return;
                };
                let core = self.clone();
                reactor.call_later(Duration::ZERO, move |cx| {
                    core.continuous_scheduled.set(false);
                    if core.on_readable(cx) {
                        core.start_reading();
                    }
                });
            }
            ReadSide::Manual => {}
        }
    }

    fn stop_reading(&self) {
        if let ReadSide::Poll(fd) = self.read_side.get() {
            if self.reader_on.replace(false) {
                if let Some(reactor) = self.reactor() {
                    reactor.remove_reader(fd);
                }
            }
        }
    }

    /// The reader: reads until `WouldBlock`, end-of-file, an error, a pause
    /// or close, or [`READ_BUDGET`] reads. Returns whether it stopped on the
    /// budget (more may be waiting).
    fn on_readable(self: &Rc<Self>, cx: &mut Ctx<'_, S>) -> bool {
        self.ensure_made(cx);
        // One read buffer per thread, lent to the reader that runs: an idle
        // connection holds none.
        let mut buf = READ_BUF.with(|b| std::mem::take(&mut *b.borrow_mut()));
        if buf.len() < READ_CHUNK {
            buf = vec![0; READ_CHUNK];
        }
        let mut reads = 0;
        let mut more = false;
        while self.reading() {
            if reads == READ_BUDGET {
                more = true;
                break;
            }
            let outcome = match self.channel.borrow_mut().as_mut() {
                Some(channel) => channel.read(&mut buf),
                None => break,
            };
            match outcome {
                Ok(0) => {
                    self.read_eof(cx);
                    break;
                }
                Ok(n) => {
                    reads += 1;
                    let data = &buf[..n.min(buf.len())];
                    self.call_protocol(cx, |p, ncx| p.data_received(ncx, data));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::debug!("{}: read failed: {e}", self.describe());
                    self.close(cx, Reason::from_io(e));
                    break;
                }
            }
        }
        READ_BUF.with(|b| *b.borrow_mut() = buf);
        more
    }

    /// Delivers `data` as if it had been read (string transports).
    pub(crate) fn deliver(self: &Rc<Self>, cx: &mut Ctx<'_, S>, data: &[u8]) -> bool {
        self.ensure_made(cx);
        if self.status.get() == Status::Closed || self.read_closed.get() {
            return false;
        }
        self.call_protocol(cx, |p, ncx| p.data_received(ncx, data))
            .is_some()
    }

    /// The peer closed its end for writing.
    pub(crate) fn read_eof(self: &Rc<Self>, cx: &mut Ctx<'_, S>) {
        if self.read_closed.replace(true) {
            return;
        }
        self.stop_reading();
        if self.status.get() != Status::Open {
            return;
        }
        let after = self
            .call_protocol(cx, |p, ncx| p.read_connection_lost(ncx))
            .unwrap_or(AfterEof::Close);
        if self.status.get() != Status::Open {
            return; // the protocol closed or aborted it meanwhile
        }
        match after {
            AfterEof::KeepWriting => {
                if self.write_closed.get() {
                    self.close(cx, Reason::PeerClosed);
                }
            }
            AfterEof::Close => self.disconnect(Some(cx), Reason::PeerClosed),
        }
    }

    pub(crate) fn pause(&self) {
        self.paused.set(true);
        self.stop_reading();
    }

    pub(crate) fn resume(self: &Rc<Self>) {
        if !self.paused.replace(false) || self.status.get() != Status::Open {
            return;
        }
        self.start_reading();
        if self.resume_scheduled.replace(true) {
            return;
        }
        let Some(reactor) = self.reactor() else {
            return;
        };
        let core = self.clone();
        reactor.call_later(Duration::ZERO, move |cx| {
            core.resume_scheduled.set(false);
            if core.reading() {
                core.ensure_made(cx);
                core.call_protocol(cx, |p, ncx| p.reading_resumed(ncx));
            }
        });
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.paused.get()
    }

    // ------------------------------------------------------------------
    // Writing

    fn refuse(&self, operation: &'static str) -> Result<()> {
        let why = match self.status.get() {
            Status::Closed => {
                let reason = self.closed_with.borrow().clone();
                match reason {
                    Some(reason) => format!("the connection is closed ({reason})"),
                    None => "the connection is closed".to_string(),
                }
            }
            Status::Aborting => {
                let reason = self.reason.borrow().clone();
                match reason {
                    Some(reason) => format!("the connection is being closed ({reason})"),
                    None => "the connection is being closed".to_string(),
                }
            }
            Status::Open | Status::Closing if self.write_closing.get() => {
                "its write side was shut down (lose_write_connection)".to_string()
            }
            Status::Open | Status::Closing => return Ok(()),
        };
        Err(Error::Closed {
            operation,
            transport: self.describe(),
            why,
        })
    }

    pub(crate) fn write_parts(self: &Rc<Self>, parts: &[&[u8]]) -> Result<()> {
        self.refuse("write")?;
        let len = parts
            .iter()
            .map(|p| p.len())
            .fold(0usize, usize::saturating_add);
        if len == 0 {
            return Ok(());
        }
        let buffered = self.out.borrow().len();
        let limit = self.limit.get();
        if buffered.saturating_add(len) > limit {
            return Err(Error::WriteBufferFull {
                transport: self.describe(),
                buffered,
                len,
                limit,
            });
        }
        let mut written = 0;
        if buffered == 0 {
            while written < len {
                let outcome = match self.channel.borrow_mut().as_mut() {
                    Some(channel) => write_after(channel.as_mut(), parts, written),
                    None => break,
                };
                match outcome {
                    Ok(0) => {
                        self.abort(Reason::from_io(io::ErrorKind::WriteZero.into()));
                        return Ok(());
                    }
                    Ok(n) => written += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        // Reported through connection_lost, as the loss of
                        // what the kernel had buffered would be.
                        log::debug!("{}: write failed: {e}", self.describe());
                        self.abort(Reason::from_io(e));
                        return Ok(());
                    }
                }
            }
        }
        if written < len {
            self.out.borrow_mut().push_parts(parts, written);
            self.want_writable();
            self.check_high_water();
        }
        Ok(())
    }

    /// Writes what the buffer holds until the kernel pushes back.
    fn flush(&self) -> io::Result<()> {
        loop {
            let outcome = {
                let out = self.out.borrow();
                if out.is_empty() {
                    return Ok(());
                }
                let mut channel = self.channel.borrow_mut();
                match (channel.as_mut(), out.single()) {
                    (Some(channel), Some(one)) => channel.write(one),
                    (Some(channel), None) => channel.write_vectored(&out.slices()),
                    (None, _) => return Ok(()),
                }
            };
            match outcome {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.out.borrow_mut().consume(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Asks to be called when the output can take more.
    pub(crate) fn want_writable(self: &Rc<Self>) {
        if matches!(self.status.get(), Status::Closed | Status::Aborting) {
            return;
        }
        let Some(reactor) = self.reactor() else {
            return;
        };
        match self.write_side {
            WriteSide::Poll(fd) => {
                if self.writer_on.get() {
                    return;
                }
                let core = self.clone();
                match reactor.add_writer(fd, move |cx| core.on_writable(cx)) {
                    Ok(()) => self.writer_on.set(true),
                    Err(e) => {
                        log::error!("{}: cannot watch for output: {e}", self.describe());
                        self.abort(reactor_failure(e));
                    }
                }
            }
            WriteSide::Direct => {
                let ready = self
                    .channel
                    .borrow()
                    .as_ref()
                    .is_some_and(|c| c.writable_now());
                if !ready || self.direct_scheduled.replace(true) {
                    return;
                }
                let core = self.clone();
                reactor.call_later(Duration::ZERO, move |cx| core.on_writable(cx));
            }
        }
    }

    fn stop_writing(&self) {
        if let WriteSide::Poll(fd) = self.write_side {
            if self.writer_on.replace(false) {
                if let Some(reactor) = self.reactor() {
                    reactor.remove_writer(fd);
                }
            }
        }
    }

    /// The writer: flushes, then finishes a close or a half-close waiting
    /// for the flush, then tells the producer.
    pub(crate) fn on_writable(self: &Rc<Self>, cx: &mut Ctx<'_, S>) {
        self.direct_scheduled.set(false);
        if matches!(self.status.get(), Status::Closed | Status::Aborting) {
            self.stop_writing();
            return;
        }
        if let Err(e) = self.flush() {
            log::debug!("{}: write failed: {e}", self.describe());
            self.close(cx, Reason::from_io(e));
            return;
        }
        if self.out.borrow().is_empty() {
            if self.status.get() == Status::Closing {
                let reason = self.reason.borrow_mut().take().unwrap_or(Reason::Closed);
                self.close(cx, reason);
                return;
            }
            if self.write_closing.get() {
                self.finish_write_close(cx);
                if self.status.get() == Status::Closed {
                    return;
                }
            }
        }
        self.drive_producer(cx);
        self.update_writer();
    }

    /// Keeps the writer only while something waits, or a pull producer
    /// waits to be asked for more.
    fn update_writer(self: &Rc<Self>) {
        let pull = {
            let slot = self.producer.borrow();
            slot.registered && !slot.streaming && self.status.get() == Status::Open
        };
        if !self.out.borrow().is_empty() || pull {
            self.want_writable();
        } else {
            self.stop_writing();
        }
    }

    pub(crate) fn buffered(&self) -> usize {
        self.out.borrow().len()
    }

    pub(crate) fn set_limit(&self, bytes: usize) {
        self.limit.set(bytes);
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit.get()
    }

    pub(crate) fn set_high_water(self: &Rc<Self>, bytes: usize) {
        self.high_water.set(bytes);
        self.check_high_water();
    }

    pub(crate) fn high_water(&self) -> usize {
        self.high_water.get()
    }

    // ------------------------------------------------------------------
    // Producers

    pub(crate) fn register_producer(
        self: &Rc<Self>,
        producer: Box<dyn Producer<S>>,
        streaming: bool,
    ) -> Result<()> {
        if matches!(self.status.get(), Status::Closed | Status::Aborting) {
            self.refuse("register a producer")?;
        }
        {
            let mut slot = self.producer.borrow_mut();
            if slot.registered {
                return Err(Error::ProducerRegistered {
                    transport: self.describe(),
                });
            }
            slot.producer = Some(producer);
            slot.registered = true;
            slot.streaming = streaming;
            slot.paused = false;
            slot.serial += 1;
        }
        if streaming {
            self.check_high_water();
        } else {
            // A pull producer writes when asked: ask when writable.
            self.want_writable();
        }
        Ok(())
    }

    pub(crate) fn unregister_producer(self: &Rc<Self>) {
        let old = {
            let mut slot = self.producer.borrow_mut();
            slot.registered = false;
            slot.serial += 1;
            slot.producer.take()
        };
        drop(old); // outside the borrow: its captures may call back in
        self.update_writer();
    }

    /// Pauses a streaming producer on the next pass if the buffer is past
    /// the high-water mark.
    fn check_high_water(self: &Rc<Self>) {
        let over = {
            let slot = self.producer.borrow();
            slot.registered
                && slot.streaming
                && !slot.paused
                && self.out.borrow().len() > self.high_water.get()
        };
        if !over || self.drive_scheduled.replace(true) {
            return;
        }
        let Some(reactor) = self.reactor() else {
            return;
        };
        let core = self.clone();
        reactor.call_later(Duration::ZERO, move |cx| {
            core.drive_scheduled.set(false);
            core.drive_producer(cx);
            core.update_writer();
        });
    }

    /// Pauses a streaming producer past the high-water mark, and resumes it
    /// (or asks a pull producer for more) once the buffer is empty.
    fn drive_producer(self: &Rc<Self>, cx: &mut Ctx<'_, S>) {
        if self.status.get() != Status::Open {
            return;
        }
        let buffered = self.out.borrow().len();
        let resume = {
            let mut slot = self.producer.borrow_mut();
            if !slot.registered || slot.producer.is_none() {
                return;
            }
            if slot.streaming && !slot.paused && buffered > self.high_water.get() {
                slot.paused = true;
                false
            } else if buffered == 0 && (slot.paused || !slot.streaming) {
                slot.paused = false;
                true
            } else {
                return;
            }
        };
        self.call_producer(cx, |p, ncx| {
            if resume {
                p.resume_producing(ncx);
            } else {
                p.pause_producing(ncx);
            }
        });
    }

    fn call_producer(
        self: &Rc<Self>,
        cx: &mut Ctx<'_, S>,
        f: impl FnOnce(&mut dyn Producer<S>, &mut NetCtx<'_, S>),
    ) {
        let taken = {
            let mut slot = self.producer.borrow_mut();
            let serial = slot.serial;
            slot.producer.take().map(|p| (p, serial))
        };
        let Some((producer, serial)) = taken else {
            return;
        };
        let mut lent = LentProducer {
            core: self,
            producer: Some(producer),
            serial,
        };
        let transport = self.handle();
        if let Some(p) = lent.producer.as_mut() {
            let mut ncx = NetCtx {
                reactor: cx.reactor,
                state: &mut *cx.state,
                transport: &transport,
            };
            f(p.as_mut(), &mut ncx);
        }
        lent.give_back();
    }

    /// Puts a producer back in its slot unless it was unregistered (or
    /// replaced) while it ran; hands it back then, to be dropped.
    fn restore_producer(
        &self,
        producer: Box<dyn Producer<S>>,
        serial: u64,
    ) -> Option<Box<dyn Producer<S>>> {
        let mut slot = self.producer.borrow_mut();
        if slot.serial == serial && slot.registered && slot.producer.is_none() {
            slot.producer = Some(producer);
            None
        } else {
            Some(producer)
        }
    }

    // ------------------------------------------------------------------
    // Closing

    pub(crate) fn is_open(&self) -> bool {
        self.status.get() != Status::Closed
    }

    pub(crate) fn is_disconnecting(&self) -> bool {
        self.status.get() != Status::Open
    }

    /// Closes once what is buffered is written (`lose_connection`, or
    /// end-of-file with `AfterEof::Close`).
    pub(crate) fn disconnect(self: &Rc<Self>, cx: Option<&mut Ctx<'_, S>>, reason: Reason) {
        if self.status.get() != Status::Open {
            return;
        }
        self.status.set(Status::Closing);
        *self.reason.borrow_mut() = Some(reason.clone());
        self.stop_reading();
        if self.out.borrow().is_empty() {
            match cx {
                Some(cx) => self.close(cx, reason),
                None => self.schedule_close(),
            }
        } else {
            self.want_writable();
        }
    }

    /// Drops what is buffered and closes on the next pass, with `reason`.
    pub(crate) fn abort(self: &Rc<Self>, reason: Reason) {
        if matches!(self.status.get(), Status::Closed | Status::Aborting) {
            return;
        }
        self.status.set(Status::Aborting);
        *self.reason.borrow_mut() = Some(reason);
        self.stop_reading();
        self.stop_writing();
        self.out.borrow_mut().clear();
        self.schedule_close();
    }

    fn schedule_close(self: &Rc<Self>) {
        if self.close_scheduled.replace(true) {
            return;
        }
        let Some(reactor) = self.reactor() else {
            return;
        };
        let core = self.clone();
        reactor.call_later(Duration::ZERO, move |cx| {
            core.close_scheduled.set(false);
            if core.status.get() == Status::Closing && !core.out.borrow().is_empty() {
                // Written after lose_connection and not taken by the kernel
                // yet: the writer closes once it has flushed that.
                return;
            }
            let reason = core.reason.borrow_mut().take();
            core.close(cx, reason.unwrap_or(Reason::Closed));
        });
    }

    /// Shuts the write direction once what is buffered is written.
    pub(crate) fn lose_write_connection(self: &Rc<Self>) {
        if self.status.get() != Status::Open || self.write_closing.replace(true) {
            return;
        }
        if !self.out.borrow().is_empty() {
            self.want_writable();
            return;
        }
        if self.write_close_scheduled.replace(true) {
            return;
        }
        let Some(reactor) = self.reactor() else {
            return;
        };
        let core = self.clone();
        reactor.call_later(Duration::ZERO, move |cx| core.finish_write_close(cx));
    }

    fn finish_write_close(self: &Rc<Self>, cx: &mut Ctx<'_, S>) {
        if self.status.get() != Status::Open || self.write_closed.replace(true) {
            return;
        }
        self.stop_writing();
        let outcome = match self.channel.borrow_mut().as_mut() {
            Some(channel) => channel.shutdown_write(),
            None => Ok(()),
        };
        if let Err(e) = outcome {
            log::debug!("{}: shutting the write side: {e}", self.describe());
        }
        self.call_protocol(cx, |p, ncx| p.write_connection_lost(ncx));
        if self.read_closed.get() && self.status.get() == Status::Open {
            self.close(cx, Reason::Closed);
        }
    }

    /// Closes now: the descriptors leave the reactor and are closed, the
    /// buffer is dropped, then the producer, the protocol and the client
    /// factory hear of it, in that order.
    pub(crate) fn close(self: &Rc<Self>, cx: &mut Ctx<'_, S>, reason: Reason) {
        if self.status.get() == Status::Closed {
            return;
        }
        self.status.set(Status::Closed);
        self.stop_reading();
        self.stop_writing();
        let channel = self.channel.borrow_mut().take();
        drop(channel);
        let dropped = self.out.borrow_mut().clear();
        if dropped > 0 {
            log::debug!(
                "{}: {dropped} buffered bytes dropped at close ({reason:?})",
                self.describe()
            );
        }
        *self.closed_with.borrow_mut() = Some(reason.clone());
        self.reason.borrow_mut().take();
        let membership = self.membership.borrow_mut().take();
        drop(membership);
        let producer = {
            let mut slot = self.producer.borrow_mut();
            slot.registered = false;
            slot.serial += 1;
            slot.producer.take()
        };
        let protocol = self.protocol.borrow_mut().take();
        let hook = self.on_lost.borrow_mut().take();
        let farewell = Farewell {
            core: self.clone(),
            reason,
            producer,
            unmade: !self.made.replace(true),
            protocol,
            hook,
        };
        if self.protocol_out.get() {
            // The protocol is running (this was reached from inside its
            // call): it hears of the loss when it returns.
            *self.lost_pending.borrow_mut() = Some(farewell);
            return;
        }
        farewell.run(cx);
    }

    /// Closes it for the reactor's shutdown, now: what is buffered goes to
    /// the kernel as far as it takes it at once (one non-blocking flush),
    /// the rest is dropped. The protocol hears [`Reason::ReactorShutdown`];
    /// but a close already under way keeps its own reason: an abort's, or
    /// `lose_connection`'s when the flush wrote everything.
    pub(crate) fn shut_down(self: &Rc<Self>, cx: &mut Ctx<'_, S>) {
        let reason = match self.status.get() {
            Status::Closed => return,
            Status::Aborting => self.reason.borrow_mut().take(),
            Status::Open | Status::Closing => {
                if let Err(e) = self.flush() {
                    log::debug!("{}: write failed at shutdown: {e}", self.describe());
                }
                let flushed = self.out.borrow().is_empty();
                match self.status.get() {
                    Status::Closing if flushed => self.reason.borrow_mut().take(),
                    _ => None,
                }
            }
        };
        let left = self.out.borrow().len();
        if left > 0 {
            log::info!(
                "{}: the reactor shut down with {left} bytes the kernel did not take; \
                 they are dropped",
                self.describe()
            );
        }
        self.close(cx, reason.unwrap_or(Reason::ReactorShutdown));
    }

    pub(crate) fn set_nodelay(&self, on: bool) -> Result<()> {
        let outcome = match self.channel.borrow().as_ref() {
            Some(channel) => channel.set_nodelay(on),
            None => return self.refuse("set TCP_NODELAY"),
        };
        outcome.map_err(|e| Error::io(format!("set TCP_NODELAY on {}", self.describe()), e))
    }
}

impl<S: 'static> Closable<S> for Core<S> {
    fn reactor_shutdown(self: Rc<Self>, cx: &mut Ctx<'_, S>) {
        self.shut_down(cx);
    }
}

/// Writes `parts` after their first `skip` bytes with one call: a plain
/// `write` for one part (no slice list to build), `write_vectored` for
/// several.
fn write_after(channel: &mut dyn Channel, parts: &[&[u8]], skip: usize) -> io::Result<usize> {
    match parts {
        [one] => channel.write(one.get(skip..).unwrap_or_default()),
        _ => channel.write_vectored(&slices_after(parts, skip)),
    }
}

/// Whether the reactor refused a descriptor because epoll cannot watch it
/// (`EPERM`: a regular file, `/dev/null`).
pub(crate) fn not_pollable(e: &tx0mq_reactor::Error) -> bool {
    matches!(e, tx0mq_reactor::Error::Io { source, .. }
        if source.kind() == io::ErrorKind::PermissionDenied)
}

/// A reactor error as the reason a connection is lost.
pub(crate) fn reactor_failure(e: tx0mq_reactor::Error) -> Reason {
    match e {
        tx0mq_reactor::Error::Io { source, .. } => Reason::Failed(Arc::new(source)),
        other => Reason::Failed(Arc::new(io::Error::other(other.to_string()))),
    }
}

/// A protocol taken out of its slot for a call. [`give_back`](Lent::give_back)
/// puts it back (or hands it the loss that happened meanwhile); if the call
/// panics instead, dropping the guard during the unwind puts it back and
/// aborts the connection, so the protocol hears `connection_lost` with
/// [`Reason::Panicked`] on the next pass.
struct Lent<'a, S: 'static> {
    core: &'a Rc<Core<S>>,
    protocol: Option<Box<dyn Protocol<S>>>,
}

impl<S: 'static> Lent<'_, S> {
    fn give_back(mut self, cx: &mut Ctx<'_, S>) {
        self.core.protocol_out.set(false);
        let Some(protocol) = self.protocol.take() else {
            return;
        };
        let pending = self.core.lost_pending.borrow_mut().take();
        match pending {
            Some(mut farewell) => {
                farewell.protocol = Some(protocol);
                farewell.run(cx);
            }
            None => *self.core.protocol.borrow_mut() = Some(protocol),
        }
    }
}

impl<S: 'static> Drop for Lent<'_, S> {
    fn drop(&mut self) {
        let Some(protocol) = self.protocol.take() else {
            return;
        };
        // Only reached when the protocol's call unwound.
        self.core.protocol_out.set(false);
        log::error!(
            "{}: its protocol panicked; the connection is aborted",
            self.core.describe()
        );
        let pending = self.core.lost_pending.borrow_mut().take();
        match pending {
            Some(mut farewell) => {
                farewell.protocol = Some(protocol);
                farewell.later();
            }
            None => {
                *self.core.protocol.borrow_mut() = Some(protocol);
                self.core.abort(Reason::Panicked);
            }
        }
    }
}

/// A producer taken out of its slot for a call; like [`Lent`].
struct LentProducer<'a, S: 'static> {
    core: &'a Rc<Core<S>>,
    producer: Option<Box<dyn Producer<S>>>,
    serial: u64,
}

impl<S: 'static> LentProducer<'_, S> {
    fn give_back(mut self) {
        if let Some(producer) = self.producer.take() {
            let leftover = self.core.restore_producer(producer, self.serial);
            drop(leftover);
        }
    }
}

impl<S: 'static> Drop for LentProducer<'_, S> {
    fn drop(&mut self) {
        if let Some(producer) = self.producer.take() {
            log::error!(
                "{}: its producer panicked; the connection is aborted",
                self.core.describe()
            );
            let leftover = self.core.restore_producer(producer, self.serial);
            drop(leftover);
            self.core.abort(Reason::Panicked);
        }
    }
}

/// What is told of a closed connection, in order: the producer's
/// `stop_producing`, the protocol's `connection_lost` (after its
/// `connection_made`, if that never ran), the client factory's hook. If one
/// of them panics, the rest are told on the next pass.
struct Farewell<S: 'static> {
    core: Rc<Core<S>>,
    reason: Reason,
    producer: Option<Box<dyn Producer<S>>>,
    unmade: bool,
    protocol: Option<Box<dyn Protocol<S>>>,
    hook: Option<LostHook<S>>,
}

impl<S: 'static> Farewell<S> {
    fn run(mut self, cx: &mut Ctx<'_, S>) {
        let transport = self.core.handle();
        if let Some(mut producer) = self.producer.take() {
            let mut ncx = NetCtx {
                reactor: cx.reactor,
                state: &mut *cx.state,
                transport: &transport,
            };
            producer.stop_producing(&mut ncx);
        }
        if let Some(mut protocol) = self.protocol.take() {
            let mut ncx = NetCtx {
                reactor: cx.reactor,
                state: &mut *cx.state,
                transport: &transport,
            };
            if std::mem::take(&mut self.unmade) {
                protocol.connection_made(&mut ncx);
            }
            protocol.connection_lost(&mut ncx, &self.reason);
        }
        if let Some(hook) = self.hook.take() {
            hook(cx, &self.reason);
        }
    }

    /// Runs on the next pass (or, with the reactor gone, lets go).
    fn later(mut self) {
        match self.core.reactor() {
            Some(reactor) => {
                reactor.call_later(Duration::ZERO, move |cx| self.run(cx));
            }
            None => {
                let rest = (self.producer.take(), self.protocol.take(), self.hook.take());
                drop(rest);
            }
        }
    }
}

impl<S: 'static> Drop for Farewell<S> {
    fn drop(&mut self) {
        if self.producer.is_none() && self.protocol.is_none() && self.hook.is_none() {
            return;
        }
        if std::thread::panicking() {
            // A call above panicked: tell the rest on the next pass.
            let rest = Farewell {
                core: self.core.clone(),
                reason: self.reason.clone(),
                producer: self.producer.take(),
                unmade: false,
                protocol: self.protocol.take(),
                hook: self.hook.take(),
            };
            rest.later();
        } else {
            // Never run (its call was dropped with the reactor): let go.
            let rest = (self.producer.take(), self.protocol.take(), self.hook.take());
            drop(rest);
        }
    }
}

/// A byte-stream connection: Twisted's `ITransport` (and
/// `ITCPTransport`, `IProducer` for reading, `IConsumer` for producers).
///
/// A cheap handle (`Clone` shares the connection); protocol callbacks get
/// theirs as `cx.transport`. Handles compare equal when they are the same
/// connection, so a set of clients can find and remove one.
///
/// ```
/// use tx0mq_net::testing::StringTransport;
/// use tx0mq_net::{NetCtx, Protocol};
/// use tx0mq_reactor::Reactor;
///
/// struct Greeter;
/// impl Protocol for Greeter {
///     fn connection_made(&mut self, cx: &mut NetCtx<'_>) {
///         let _ = cx.transport.write_sequence([&b"hello, "[..], b"world\r\n"]);
///         cx.transport.lose_connection(); // after flushing
///     }
///     fn data_received(&mut self, _cx: &mut NetCtx<'_>, _data: &[u8]) {}
/// }
///
/// let reactor = Reactor::builder().fake_clock().handle_signals(false).build()?;
/// let tr = StringTransport::connect(&reactor, Greeter)?;
/// assert_eq!(tr.value(), b"hello, world\r\n");
/// assert!(tr.transport().is_disconnecting());
/// reactor.advance(std::time::Duration::ZERO)?; // the close completes on the next pass
/// assert!(!tr.transport().is_connected());
/// assert!(tr.transport().write(b"late").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Transport<S: 'static = ()> {
    pub(crate) core: Rc<Core<S>>,
}

impl<S: 'static> Clone for Transport<S> {
    fn clone(&self) -> Self {
        Transport {
            core: self.core.clone(),
        }
    }
}

impl<S: 'static> PartialEq for Transport<S> {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.core, &other.core)
    }
}

impl<S: 'static> Eq for Transport<S> {}

impl<S: 'static> Hash for Transport<S> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::ptr::hash(Rc::as_ptr(&self.core), state);
    }
}

/// `Transport(TCP connection with 127.0.0.1:8000)`.
impl<S: 'static> fmt::Debug for Transport<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Transport({})", self.core.describe())
    }
}

impl<S: 'static> Transport<S> {
    /// Writes `data` (Twisted's `write`): to the kernel at once if it takes
    /// it, else into the write buffer, flushed in order as the peer reads.
    /// Never blocks and never calls user code.
    ///
    /// Writes are taken until the connection is closed (also after
    /// `lose_connection`, as Twisted takes them, and flushed before the
    /// close). A connection the kernel reports broken during the write is
    /// aborted: its protocol hears [`Reason::Reset`] (or the error) on the
    /// next pass.
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] once the connection is closed or being aborted, or
    /// its write side was shut; [`Error::WriteBufferFull`] if the buffer
    /// would pass its limit (nothing is written then).
    pub fn write(&self, data: impl AsRef<[u8]>) -> Result<()> {
        self.core.write_parts(&[data.as_ref()])
    }

    /// Writes several pieces as one (Twisted's `writeSequence`), with one
    /// `writev` where possible.
    ///
    /// # Errors
    ///
    /// As for [`write`](Self::write); the pieces are written all or none.
    pub fn write_sequence<I, B>(&self, parts: I) -> Result<()>
    where
        I: IntoIterator<Item = B>,
        B: AsRef<[u8]>,
    {
        let owned: Vec<B> = parts.into_iter().collect();
        let parts: Vec<&[u8]> = owned.iter().map(AsRef::as_ref).collect();
        self.core.write_parts(&parts)
    }

    /// Closes the connection once everything written has been flushed
    /// (Twisted's `loseConnection`). Reading stops at once. The protocol
    /// hears `connection_lost(Reason::Closed)` after the flush, on this
    /// pass or a later one, never from inside this call. Does nothing on
    /// a connection already closing.
    pub fn lose_connection(&self) {
        self.core.disconnect(None, Reason::Closed);
    }

    /// Closes the connection at once, dropping what is buffered (Twisted's
    /// `abortConnection`); the protocol hears
    /// `connection_lost(Reason::Aborted)` on the next pass. Later writes
    /// fail.
    pub fn abort_connection(&self) {
        self.core.abort(Reason::Aborted);
    }

    /// Shuts this side's write direction once everything written has been
    /// flushed (Twisted's `loseWriteConnection`): the peer reads
    /// end-of-file, this side can still read. The protocol's
    /// `write_connection_lost` is called then; later writes fail.
    pub fn lose_write_connection(&self) {
        self.core.lose_write_connection();
    }

    /// The remote end (Twisted's `getPeer`).
    pub fn get_peer(&self) -> Address {
        self.core.peer
    }

    /// The local end (Twisted's `getHost`).
    pub fn get_host(&self) -> Address {
        self.core.host
    }

    /// Stops reading (Twisted's `pauseProducing` on a transport): data
    /// waits in the kernel, whose buffers fill and make the peer's writes
    /// wait in turn.
    pub fn pause_producing(&self) {
        self.core.pause();
    }

    /// Reads again after [`pause_producing`](Self::pause_producing); the
    /// protocol's `reading_resumed` is called on the next pass.
    pub fn resume_producing(&self) {
        self.core.resume();
    }

    /// Twisted's `stopProducing` on a transport: [`lose_connection`](Self::lose_connection).
    pub fn stop_producing(&self) {
        self.lose_connection();
    }

    /// Whether reading is paused.
    pub fn is_reading_paused(&self) -> bool {
        self.core.is_paused()
    }

    /// Registers the producer that writes to this transport (Twisted's
    /// `registerProducer`); see [`Producer`] for `streaming`.
    ///
    /// # Errors
    ///
    /// [`Error::ProducerRegistered`] if one is registered already;
    /// [`Error::Closed`] if the connection is closed.
    pub fn register_producer(&self, producer: impl Producer<S>, streaming: bool) -> Result<()> {
        self.core.register_producer(Box::new(producer), streaming)
    }

    /// Unregisters the producer, if any (Twisted's `unregisterProducer`);
    /// safe from inside the producer itself.
    pub fn unregister_producer(&self) {
        self.core.unregister_producer();
    }

    /// Bytes written but not yet taken by the kernel.
    pub fn buffered(&self) -> usize {
        self.core.buffered()
    }

    /// The write buffer's limit (default [`DEFAULT_WRITE_BUFFER_LIMIT`]).
    pub fn write_buffer_limit(&self) -> usize {
        self.core.limit()
    }

    /// Sets the write buffer's limit: a write that would take it past
    /// `bytes` fails with [`Error::WriteBufferFull`].
    pub fn set_write_buffer_limit(&self, bytes: usize) {
        self.core.set_limit(bytes);
    }

    /// The buffered size past which a streaming producer is paused
    /// (default [`DEFAULT_PRODUCER_HIGH_WATER`], Twisted's `bufferSize`).
    pub fn producer_high_water(&self) -> usize {
        self.core.high_water()
    }

    /// Sets the producers' high-water mark.
    pub fn set_producer_high_water(&self, bytes: usize) {
        self.core.set_high_water(bytes);
    }

    /// True until the connection is closed (Twisted's `connected`).
    pub fn is_connected(&self) -> bool {
        self.core.is_open()
    }

    /// True once it is closing, or closed (Twisted's `disconnecting`): a
    /// protocol stops handling the rest of what it received.
    pub fn is_disconnecting(&self) -> bool {
        self.core.is_disconnecting()
    }

    /// Sets `TCP_NODELAY` (Twisted's `setTcpNoDelay`).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] on a transport that is not TCP; [`Error::Closed`] once
    /// closed.
    pub fn set_tcp_nodelay(&self, on: bool) -> Result<()> {
        self.core.set_nodelay(on)
    }
}
