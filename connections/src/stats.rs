//! What a connection counts ([`ConnectionStats`], from
//! [`Connection::stats`]) and the sums over a factory's connections
//! ([`FactoryStats`], from [`ZmqFactory::stats`]).
//!
//! The counts live in the connection's core as plain `Cell<u64>`s: no
//! atomics and no allocation. Each is added to as the event happens, so a
//! snapshot is exact at any moment, from inside a callback too.

use std::cell::Cell;

use crate::connection::Connection;
use crate::factory::ZmqFactory;
use crate::pattern::Pattern;

/// A snapshot of one connection's counters, since it was created.
///
/// Messages are counted whole (a multipart message is one message), bytes
/// over all its frames. The counts are exact at every moment, from inside a
/// callback too. Counting a received message's bytes asks libzmq for each
/// frame's size, the one count that costs more than an addition (see the
/// "Counters" section of `docs/ARCHITECTURE.md`).
///
/// ```
/// use tx0mq_connections::{ZmqOptions, ZmqPushConnection};
/// use tx0mq_reactor::Reactor;
///
/// let reactor = Reactor::builder().fake_clock().handle_signals(false).build()?;
/// let options = ZmqOptions::new().outbox_limit(2);
/// let (push, peer) = ZmqPushConnection::fake_with(&reactor, Default::default(), &options)?;
/// push.push(b"sent")?;
/// peer.refuse(true); // the peer takes nothing: sends wait in the outbox
/// push.push(b"one")?;
/// push.push(b"two")?;
/// assert!(push.push(b"three").is_err()); // Error::OutboxFull
///
/// let stats = push.stats();
/// assert_eq!((stats.messages_out, stats.bytes_out), (1, 4));
/// assert_eq!((stats.queued, stats.outbox_len, stats.outbox_high_mark), (2, 2, 2));
/// assert_eq!(stats.dropped_outbox_full, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnectionStats {
    /// Messages received from libzmq, those dropped as malformed included.
    pub messages_in: u64,
    /// Their bytes, all frames: counted only on connections made with
    /// [`ZmqOptions::count_received_bytes`](crate::ZmqOptions::count_received_bytes)
    /// (and on the test kit's fake connections), 0 otherwise.
    pub bytes_in: u64,
    /// Messages handed to libzmq, at once or later from the outbox.
    pub messages_out: u64,
    /// Their bytes, all frames.
    pub bytes_out: u64,
    /// Messages waiting in the outbox now.
    pub outbox_len: usize,
    /// Their bytes.
    pub outbox_bytes: usize,
    /// The most messages the outbox has held at once.
    pub outbox_high_mark: usize,
    /// Sends that went to the outbox: libzmq refused them (EAGAIN: the
    /// high-water mark, or no peer yet), or messages already waited there.
    pub queued: u64,
    /// Received messages the pattern could not decode (logged at a bounded
    /// rate and dropped).
    pub dropped_malformed: u64,
    /// Sends refused with `Error::OutboxFull`: the outbox was at its limit
    /// of messages or bytes.
    pub dropped_outbox_full: u64,
    /// Sends libzmq refused that the pattern drops rather than queues: a PUB
    /// or XPUB connection at its high-water mark.
    pub dropped_hwm: u64,
    /// Messages still in the outbox when the connection shut down.
    pub dropped_at_shutdown: u64,
    /// Sends that failed with an error from libzmq, and refused sends that
    /// the pattern fails rather than queues (ROUTER, REP, STREAM: the
    /// caller got the error); and queued messages dropped on an error.
    pub send_errors: u64,
    /// Times reading was paused (`pause_reading` on a reading connection,
    /// by the user or by a full message stream).
    pub pauses: u64,
    /// Whether reading is paused now.
    pub paused: bool,
}

impl ConnectionStats {
    /// Every message dropped, for any reason: malformed, outbox full,
    /// dropped at the high-water mark, discarded at shutdown.
    ///
    /// ```
    /// use tx0mq_connections::ConnectionStats;
    ///
    /// let stats = ConnectionStats {
    ///     dropped_malformed: 2,
    ///     dropped_at_shutdown: 3,
    ///     ..Default::default()
    /// };
    /// assert_eq!(stats.dropped(), 5);
    /// ```
    pub fn dropped(&self) -> u64 {
        self.dropped_malformed
            + self.dropped_outbox_full
            + self.dropped_hwm
            + self.dropped_at_shutdown
    }
}

/// A snapshot of a factory's counters: the sums over its open connections,
/// plus what its closed connections counted before they closed.
///
/// ```
/// use tx0mq_connections::{ZmqFactory, ZmqPushConnection};
/// use tx0mq_reactor::Reactor;
///
/// let reactor = Reactor::builder().handle_signals(false).build()?;
/// let factory = ZmqFactory::new(&reactor)?;
/// let push = ZmqPushConnection::new(&factory, None)?; // no endpoint, no peer
/// push.push(b"waits")?; // libzmq takes nothing: it waits in the outbox
/// push.shutdown(); // and is dropped
///
/// let stats = factory.stats();
/// assert_eq!((stats.open, stats.closed), (0, 1));
/// assert_eq!((stats.queued, stats.dropped_at_shutdown), (1, 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FactoryStats {
    /// Connections open now.
    pub open: usize,
    /// Connections shut down so far.
    pub closed: u64,
    /// See [`ConnectionStats::messages_in`].
    pub messages_in: u64,
    /// See [`ConnectionStats::bytes_in`].
    pub bytes_in: u64,
    /// See [`ConnectionStats::messages_out`].
    pub messages_out: u64,
    /// See [`ConnectionStats::bytes_out`].
    pub bytes_out: u64,
    /// Messages waiting in the open connections' outboxes now.
    pub outbox_len: usize,
    /// Their bytes.
    pub outbox_bytes: usize,
    /// The highest [`ConnectionStats::outbox_high_mark`] of any connection,
    /// open or closed.
    pub outbox_high_mark: usize,
    /// See [`ConnectionStats::queued`].
    pub queued: u64,
    /// See [`ConnectionStats::dropped_malformed`].
    pub dropped_malformed: u64,
    /// See [`ConnectionStats::dropped_outbox_full`].
    pub dropped_outbox_full: u64,
    /// See [`ConnectionStats::dropped_hwm`].
    pub dropped_hwm: u64,
    /// See [`ConnectionStats::dropped_at_shutdown`].
    pub dropped_at_shutdown: u64,
    /// See [`ConnectionStats::send_errors`].
    pub send_errors: u64,
    /// See [`ConnectionStats::pauses`].
    pub pauses: u64,
    /// Open connections whose reading is paused now.
    pub paused: usize,
}

impl FactoryStats {
    /// Every message dropped, for any reason (see
    /// [`ConnectionStats::dropped`]).
    ///
    /// ```
    /// use tx0mq_connections::FactoryStats;
    ///
    /// let stats = FactoryStats {
    ///     dropped_hwm: 4,
    ///     dropped_outbox_full: 1,
    ///     ..Default::default()
    /// };
    /// assert_eq!(stats.dropped(), 5);
    /// ```
    pub fn dropped(&self) -> u64 {
        self.dropped_malformed
            + self.dropped_outbox_full
            + self.dropped_hwm
            + self.dropped_at_shutdown
    }

    /// Adds one connection's counts.
    pub(crate) fn add(&mut self, c: &ConnectionStats) {
        let sum = |total: &mut u64, n: u64| *total = total.saturating_add(n);
        sum(&mut self.messages_in, c.messages_in);
        sum(&mut self.bytes_in, c.bytes_in);
        sum(&mut self.messages_out, c.messages_out);
        sum(&mut self.bytes_out, c.bytes_out);
        sum(&mut self.queued, c.queued);
        sum(&mut self.dropped_malformed, c.dropped_malformed);
        sum(&mut self.dropped_outbox_full, c.dropped_outbox_full);
        sum(&mut self.dropped_hwm, c.dropped_hwm);
        sum(&mut self.dropped_at_shutdown, c.dropped_at_shutdown);
        sum(&mut self.send_errors, c.send_errors);
        sum(&mut self.pauses, c.pauses);
        self.outbox_len = self.outbox_len.saturating_add(c.outbox_len);
        self.outbox_bytes = self.outbox_bytes.saturating_add(c.outbox_bytes);
        self.outbox_high_mark = self.outbox_high_mark.max(c.outbox_high_mark);
        self.paused += usize::from(c.paused);
    }
}

/// A connection's counters, in its core.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) messages_in: Cell<u64>,
    pub(crate) bytes_in: Cell<u64>,
    pub(crate) messages_out: Cell<u64>,
    pub(crate) bytes_out: Cell<u64>,
    pub(crate) queued: Cell<u64>,
    pub(crate) dropped_malformed: Cell<u64>,
    pub(crate) dropped_outbox_full: Cell<u64>,
    pub(crate) dropped_hwm: Cell<u64>,
    pub(crate) dropped_at_shutdown: Cell<u64>,
    pub(crate) send_errors: Cell<u64>,
    pub(crate) pauses: Cell<u64>,
}

/// Adds `n` to a counter.
#[inline(always)]
pub(crate) fn add(counter: &Cell<u64>, n: u64) {
    counter.set(counter.get().wrapping_add(n));
}

impl Counters {
    /// One message of `bytes` received from libzmq.
    #[inline(always)]
    pub(crate) fn received(&self, bytes: usize) {
        add(&self.messages_in, 1);
        add(&self.bytes_in, bytes as u64);
    }

    /// One message of `bytes` handed to libzmq.
    #[inline(always)]
    pub(crate) fn sent(&self, bytes: usize) {
        add(&self.messages_out, 1);
        add(&self.bytes_out, bytes as u64);
    }

    /// The counts that live in the cells (the outbox and pause state come
    /// from the core).
    pub(crate) fn snapshot(&self) -> ConnectionStats {
        ConnectionStats {
            messages_in: self.messages_in.get(),
            bytes_in: self.bytes_in.get(),
            messages_out: self.messages_out.get(),
            bytes_out: self.bytes_out.get(),
            queued: self.queued.get(),
            dropped_malformed: self.dropped_malformed.get(),
            dropped_outbox_full: self.dropped_outbox_full.get(),
            dropped_hwm: self.dropped_hwm.get(),
            dropped_at_shutdown: self.dropped_at_shutdown.get(),
            send_errors: self.send_errors.get(),
            pauses: self.pauses.get(),
            ..ConnectionStats::default()
        }
    }
}

impl<K: Pattern, S: 'static> Connection<K, S> {
    /// This connection's counters: messages and bytes in and out, the
    /// outbox's depth and high mark, sends queued, messages dropped (and
    /// why), pauses. A cheap copy; see [`ConnectionStats`].
    ///
    /// ```
    /// use tx0mq_connections::ZmqPullConnection;
    /// use tx0mq_reactor::Reactor;
    ///
    /// let reactor = Reactor::builder().handle_signals(false).build()?;
    /// let (pull, peer) = ZmqPullConnection::fake(&reactor)?;
    /// pull.on_pull(|_, _| ());
    /// peer.deliver([&b"two"[..], b"frames"])?;
    /// let stats = pull.stats();
    /// assert_eq!((stats.messages_in, stats.bytes_in), (1, 9));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stats(&self) -> ConnectionStats {
        self.core.stats()
    }
}

impl<S: 'static> ZmqFactory<S> {
    /// The sums of the counters of every connection made from this
    /// factory: those open now, and those already shut down (as they were
    /// when they closed). See [`FactoryStats`].
    ///
    /// ```
    /// use tx0mq_connections::{
    ///     ZmqEndpoint, ZmqFactory, ZmqOptions, ZmqPullConnection, ZmqPushConnection,
    /// };
    /// use tx0mq_reactor::Reactor;
    ///
    /// let reactor = Reactor::builder().handle_signals(false).build()?;
    /// let factory = ZmqFactory::new(&reactor)?;
    /// let address = "inproc://doc-factory-stats";
    /// let counting = ZmqOptions::new().count_received_bytes(true);
    /// let pull = ZmqPullConnection::with_options(&factory, ZmqEndpoint::bind(address), &counting)?;
    /// pull.on_pull(|cx, _| cx.reactor.stop());
    /// let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect(address))?;
    /// push.push(b"hello")?;
    /// reactor.run()?;
    ///
    /// let stats = factory.stats();
    /// assert_eq!(stats.open, 2);
    /// assert_eq!((stats.messages_out, stats.messages_in, stats.bytes_in), (1, 1, 5));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stats(&self) -> FactoryStats {
        self.inner.stats()
    }
}
