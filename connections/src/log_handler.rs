//! A `log` handler that publishes each record on a PUB connection, with
//! pyzmq's framing (pyzmq's `zmq.log.handlers.PUBHandler`), and the
//! subscriber's side: [`PubLogRecord`] parses what such a handler sends,
//! ours or pyzmq's.
//!
//! # The wire
//!
//! Each record is one message of two frames, as pyzmq's `PUBHandler` sends
//! it:
//!
//! 1. the topic: `ROOT.LEVEL.SUBTOPIC`, where `ROOT` (the root topic, empty
//!    by default) and `.SUBTOPIC` are left out when empty, and `LEVEL` is
//!    Python's name of the level ([`PyLevel`]): `DEBUG`, `INFO`, `WARNING`,
//!    `ERROR`, `CRITICAL`;
//! 2. the text, formatted as pyzmq's handler formats it: `MESSAGE\n` for
//!    INFO, `LEVEL FILE:LINE - MESSAGE\n` for DEBUG, WARNING and CRITICAL,
//!    and `ERROR FILE:LINE - MESSAGE - None\n` for ERROR (Python's
//!    `exc_info`, which a Rust record never has).
//!
//! Rust's levels map onto Python's: `Error` → `ERROR`, `Warn` → `WARNING`,
//! `Info` → `INFO`, `Debug` and `Trace` → `DEBUG` (Python has no TRACE, and
//! pyzmq's subscribers look the name up in `logging`). Nothing in Rust logs
//! at `CRITICAL`; a parsed `CRITICAL` record maps back to `Error`.
//!
//! The subtopic follows pyzmq's rule by default ([`Subtopic::Message`]): a
//! message `"net.tcp::connection refused"` is published under
//! `ERROR.net.tcp` with the text `connection refused`.
//!
//! # Threads, and never blocking
//!
//! `log::Log` is called on any thread; the PUB connection lives on the
//! reactor thread. [`PubLogHandler::log`] formats the record on the caller's
//! thread, puts it in a bounded queue without waiting
//! ([`SyncSender::try_send`]), and wakes the reactor (at most one wake-up is
//! pending at a time; a wake-up is a push onto the reactor's call queue,
//! under a lock held only for that push), whose thread publishes what is
//! queued, at most a queue's worth per wake-up so a flood cannot starve the
//! reactor. When the queue
//! is full the record is **dropped and counted** ([`PubLogStats::dropped`]),
//! and the next publish on the reactor thread sends one `WARNING` record
//! saying how many were dropped so far. Logging never waits for the reactor,
//! the network or a subscriber (PUB itself drops at its high-water mark).
//!
//! A record logged while the handler is at work on the same thread (by the
//! connection while it publishes, or by a `Display` impl while a record is
//! formatted) is skipped and counted ([`PubLogStats::reentrant`]), so the
//! handler never recurses.
//!
//! ```
//! use tx0mq_connections::log_handler::{PubLogHandler, PubLogRecord};
//! use tx0mq_connections::{ZmqEndpoint, ZmqFactory, ZmqPubConnection, ZmqConnection};
//! use tx0mq_reactor::Reactor;
//!
//! let reactor = Reactor::builder().handle_signals(false).build()?;
//! let factory = ZmqFactory::new(&reactor)?;
//! let publisher = ZmqPubConnection::new(&factory, ZmqEndpoint::bind("inproc://doc-log"))?;
//! let sub = ZmqConnection::new(&factory, zmq::SUB, ZmqEndpoint::connect("inproc://doc-log"))?;
//! sub.with_socket(|s| s.set_subscribe(b""))??;
//! sub.on_event(|cx, frames| {
//!     if let Ok(record) = PubLogRecord::parse(&frames) {
//!         println!("{}:root:{}", record.level.name(), record.text);
//!         cx.reactor.stop()?;
//!     }
//!     Ok::<(), tx0mq_reactor::Error>(())
//! });
//! let handler = PubLogHandler::new(&publisher)?.root_topic("app");
//! // Usually: handler.install()? and then log::info!(...) from any thread.
//! let ticker = tx0mq_reactor::LoopingCall::new(&reactor, move |_| {
//!     use log::Log;
//!     handler.log(&log::Record::builder().level(log::Level::Info).args(format_args!("hi")).build());
//! });
//! ticker.start(std::time::Duration::from_millis(10), true)?;
//! reactor.run()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};

use log::{LevelFilter, Log, Metadata, Record};

use crate::error::{Error, Result};
use crate::frames::Frame;
use crate::pattern::ZmqPubConnection;

/// How many records wait for the reactor thread, by default, before more
/// are dropped.
pub const DEFAULT_LOG_QUEUE: usize = 1024;

/// The levels of Python's `logging`, by the names pyzmq's `PUBHandler`
/// puts in its topics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PyLevel {
    /// `logging.DEBUG` (10).
    Debug,
    /// `logging.INFO` (20).
    Info,
    /// `logging.WARNING` (30).
    Warning,
    /// `logging.ERROR` (40).
    Error,
    /// `logging.CRITICAL` (50).
    Critical,
}

impl PyLevel {
    /// The five levels, lowest first.
    pub const ALL: [PyLevel; 5] = [
        PyLevel::Debug,
        PyLevel::Info,
        PyLevel::Warning,
        PyLevel::Error,
        PyLevel::Critical,
    ];

    /// Python's `levelname`: `DEBUG`, `INFO`, `WARNING`, `ERROR`, `CRITICAL`.
    pub fn name(self) -> &'static str {
        match self {
            PyLevel::Debug => "DEBUG",
            PyLevel::Info => "INFO",
            PyLevel::Warning => "WARNING",
            PyLevel::Error => "ERROR",
            PyLevel::Critical => "CRITICAL",
        }
    }

    /// Python's number for the level (`logging.DEBUG` is 10, ...).
    pub fn number(self) -> u8 {
        match self {
            PyLevel::Debug => 10,
            PyLevel::Info => 20,
            PyLevel::Warning => 30,
            PyLevel::Error => 40,
            PyLevel::Critical => 50,
        }
    }

    /// The level named `name` (exactly as [`name`](Self::name) spells it).
    pub fn from_name(name: &str) -> Option<PyLevel> {
        PyLevel::ALL.into_iter().find(|level| level.name() == name)
    }

    /// Rust's level for it: `Critical` becomes `Error`, Rust's highest.
    pub fn to_log(self) -> log::Level {
        match self {
            PyLevel::Debug => log::Level::Debug,
            PyLevel::Info => log::Level::Info,
            PyLevel::Warning => log::Level::Warn,
            PyLevel::Error | PyLevel::Critical => log::Level::Error,
        }
    }
}

impl From<log::Level> for PyLevel {
    /// Python's level for a Rust one: `Trace` becomes `Debug`.
    fn from(level: log::Level) -> Self {
        match level {
            log::Level::Error => PyLevel::Error,
            log::Level::Warn => PyLevel::Warning,
            log::Level::Info => PyLevel::Info,
            log::Level::Debug | log::Level::Trace => PyLevel::Debug,
        }
    }
}

impl fmt::Display for PyLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a record's subtopic (the topic's part after the level) comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Subtopic {
    /// pyzmq's rule: the message's text before its first `::`, which is cut
    /// from the text (`"net.tcp::refused"` → subtopic `net.tcp`, text
    /// `refused`); none if the text has no `::`.
    #[default]
    Message,
    /// The record's target, `::` turned into `.` (`myapp::net` →
    /// `myapp.net`); the text is left whole.
    Target,
    /// No subtopic; the text is left whole.
    None,
}

/// The counters of a [`PubLogHandler`], shared with it (take them before
/// installing it).
#[derive(Clone, Debug, Default)]
pub struct PubLogStats(Arc<Counters>);

#[derive(Debug, Default)]
struct Counters {
    published: AtomicU64,
    dropped: AtomicU64,
    reentrant: AtomicU64,
    /// A wake-up of the reactor thread is on its way.
    wake_pending: AtomicBool,
}

impl PubLogStats {
    /// Records handed to the PUB connection.
    pub fn published(&self) -> u64 {
        self.0.published.load(Ordering::Relaxed)
    }

    /// Records dropped: the queue was full, or the connection or its
    /// reactor had gone.
    pub fn dropped(&self) -> u64 {
        self.0.dropped.load(Ordering::Relaxed)
    }

    /// Records skipped because they were logged while the handler was at
    /// work on the same thread (the handler never recurses).
    pub fn reentrant(&self) -> u64 {
        self.0.reentrant.load(Ordering::Relaxed)
    }
}

thread_local! {
    /// Set while this thread is inside the handler (formatting, queueing or
    /// publishing): a record logged then is skipped, not handled again.
    static BUSY: Cell<bool> = const { Cell::new(false) };
    /// The publishing halves of this thread's handlers (the reactor thread's),
    /// by id: what a wake-up runs.
    static DRAINS: RefCell<HashMap<u64, Drain>> = RefCell::new(HashMap::new());
}

/// Ids for [`DRAINS`].
static NEXT_DRAIN: AtomicU64 = AtomicU64::new(1);

/// Marks the thread busy until dropped, then puts back what was there.
struct Busy(bool);

impl Busy {
    /// `None` if the thread is busy already.
    fn enter() -> Option<Busy> {
        let was = BUSY.with(|busy| busy.replace(true));
        if was {
            None
        } else {
            Some(Busy(was))
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        BUSY.with(|busy| busy.set(self.0));
    }
}

/// One queued record: topic and text.
type Entry = (Vec<u8>, Vec<u8>);

/// The reactor thread's half: the queue's receiving end and the connection.
struct Drain {
    records: Receiver<Entry>,
    publisher: Box<dyn Fn(Entry) -> Result<()>>,
    closed: Box<dyn Fn() -> bool>,
    counters: Arc<Counters>,
    /// How many records per wake-up at most, so a flood cannot starve the
    /// reactor (the rest goes on the next wake-up).
    batch: usize,
    /// `dropped` when it was last reported on the wire.
    reported: u64,
    /// The handler's root topic, for the report of dropped records.
    root_topic: Arc<Mutex<String>>,
    /// Wakes the reactor thread to run this drain again.
    wake: Arc<dyn Fn() -> bool + Send + Sync>,
}

impl Drain {
    /// Publishes what is queued; `false` once the connection is gone.
    fn run(&mut self) -> bool {
        let _busy = Busy::enter();
        self.counters.wake_pending.store(false, Ordering::SeqCst);
        if (self.closed)() {
            return false;
        }
        let mut sent = 0;
        loop {
            if sent == self.batch {
                if !self.counters.wake_pending.swap(true, Ordering::SeqCst) && !(self.wake)() {
                    self.counters.wake_pending.store(false, Ordering::SeqCst);
                }
                break;
            }
            match self.records.try_recv() {
                Ok(entry) => {
                    self.publish(entry);
                    sent += 1;
                }
                Err(TryRecvError::Empty) => break,
                // The handler is gone and its records are out: forget the
                // drain (and its handle on the connection).
                Err(TryRecvError::Disconnected) => return false,
            }
        }
        let dropped = self.counters.dropped.load(Ordering::Relaxed);
        if dropped > self.reported {
            self.reported = dropped;
            let root = self
                .root_topic
                .lock()
                .map(|root| root.clone())
                .unwrap_or_default();
            let topic = topic(&root, PyLevel::Warning, "");
            let text = format!(
                "WARNING log_handler.rs:0 - {dropped} log record(s) dropped so far: the queue was full\n"
            );
            self.publish((topic.into_bytes(), text.into_bytes()));
        }
        true
    }

    fn publish(&self, entry: Entry) {
        match (self.publisher)(entry) {
            Ok(()) => self.counters.published.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.counters.dropped.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// Runs the drain `id` of this thread; forgets it once its connection is
/// gone. The drain is taken out while it runs, so nothing it calls can
/// reach the table borrowed.
fn run_drain(id: u64) {
    let Some(mut drain) = DRAINS.with(|drains| drains.borrow_mut().remove(&id)) else {
        return;
    };
    if drain.run() {
        DRAINS.with(|drains| drains.borrow_mut().insert(id, drain));
    }
}

/// The topic frame: `ROOT.LEVEL.SUBTOPIC`, empty parts left out.
fn topic(root: &str, level: PyLevel, subtopic: &str) -> String {
    let mut topic = String::with_capacity(root.len() + subtopic.len() + 10);
    if !root.is_empty() {
        topic.push_str(root);
        topic.push('.');
    }
    topic.push_str(level.name());
    if !subtopic.is_empty() {
        topic.push('.');
        topic.push_str(subtopic);
    }
    topic
}

/// pyzmq's `PUBHandler`: a [`log::Log`] that publishes every record on a
/// PUB connection with pyzmq's topic framing. See the [module docs](self)
/// for the wire format, the level names and how it never blocks or
/// recurses.
///
/// Made on the reactor thread (where the connection is), then used from
/// any thread: as the process's logger ([`install`](Self::install)), or
/// called directly, or from a logger of your own that also writes
/// elsewhere.
pub struct PubLogHandler {
    queue: SyncSender<Entry>,
    counters: Arc<Counters>,
    wake: Arc<dyn Fn() -> bool + Send + Sync>,
    root_topic: String,
    shared_root: Arc<Mutex<String>>,
    level: LevelFilter,
    subtopic: Subtopic,
}

impl fmt::Debug for PubLogHandler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PubLogHandler")
            .field("root_topic", &self.root_topic)
            .field("level", &self.level)
            .field("subtopic", &self.subtopic)
            .field("counters", &self.counters)
            .finish()
    }
}

impl Drop for PubLogHandler {
    /// Wakes the reactor thread once more, so that it publishes what is
    /// still queued and then forgets this handler.
    fn drop(&mut self) {
        if !self.counters.wake_pending.swap(true, Ordering::SeqCst) && !(self.wake)() {
            self.counters.wake_pending.store(false, Ordering::SeqCst);
        }
    }
}

impl PubLogHandler {
    /// A handler publishing on `publisher`, with a queue of
    /// [`DEFAULT_LOG_QUEUE`] records, no root topic, every level, and
    /// pyzmq's subtopic rule. Call it on the reactor thread.
    ///
    /// # Errors
    ///
    /// `Error::Closed` if the connection was shut down or its reactor is
    /// gone.
    pub fn new<S: 'static>(publisher: &ZmqPubConnection<S>) -> Result<PubLogHandler> {
        let capacity = NonZeroUsize::new(DEFAULT_LOG_QUEUE).unwrap_or(NonZeroUsize::MIN);
        Self::with_capacity(publisher, capacity)
    }

    /// [`new`](Self::new) with a queue of `capacity` records: past that,
    /// records are dropped (and counted), never waited for.
    ///
    /// # Errors
    ///
    /// `Error::Closed` if the connection was shut down or its reactor is
    /// gone.
    pub fn with_capacity<S: 'static>(
        publisher: &ZmqPubConnection<S>,
        capacity: NonZeroUsize,
    ) -> Result<PubLogHandler> {
        let closed = || Error::Closed {
            operation: "publish log records",
            connection: publisher.core.describe(),
        };
        if publisher.is_closed() {
            return Err(closed());
        }
        let handle = publisher.reactor().ok_or_else(closed)?.thread_handle();
        let (queue, records) = mpsc::sync_channel(capacity.get());
        let counters = Arc::new(Counters::default());
        let id = NEXT_DRAIN.fetch_add(1, Ordering::Relaxed);
        let wake: Arc<dyn Fn() -> bool + Send + Sync> =
            Arc::new(move || handle.call_from_thread(move |_| run_drain(id)).is_ok());
        let shared_root = Arc::new(Mutex::new(String::new()));
        let send = publisher.clone();
        let is_closed = publisher.clone();
        let drain = Drain {
            records,
            publisher: Box::new(move |(topic, text)| send.send([topic, text])),
            closed: Box::new(move || is_closed.is_closed()),
            counters: counters.clone(),
            batch: capacity.get(),
            reported: 0,
            root_topic: shared_root.clone(),
            wake: wake.clone(),
        };
        DRAINS.with(|drains| drains.borrow_mut().insert(id, drain));
        Ok(PubLogHandler {
            queue,
            counters,
            wake,
            root_topic: String::new(),
            shared_root,
            level: LevelFilter::Trace,
            subtopic: Subtopic::Message,
        })
    }

    /// Sets the root topic, the topic's first part (pyzmq's `root_topic`,
    /// `setRootTopic`); empty (the default) leaves it out.
    pub fn root_topic(mut self, root_topic: impl Into<String>) -> Self {
        self.root_topic = root_topic.into();
        if let Ok(mut shared) = self.shared_root.lock() {
            shared.clone_from(&self.root_topic);
        }
        self
    }

    /// Publishes only records at `level` or above (Python's
    /// `handler.setLevel`). [`install`](Self::install) makes it the
    /// process's maximum level too.
    pub fn level(mut self, level: LevelFilter) -> Self {
        self.level = level;
        self
    }

    /// Where the subtopic comes from (pyzmq's rule by default).
    pub fn subtopic(mut self, subtopic: Subtopic) -> Self {
        self.subtopic = subtopic;
        self
    }

    /// The handler's counters, which stay readable after it is installed.
    pub fn stats(&self) -> PubLogStats {
        PubLogStats(self.counters.clone())
    }

    /// Makes this handler the process's logger (`log::set_logger`; the
    /// handler lives as long as the process) with its level as the maximum;
    /// returns its counters.
    ///
    /// # Errors
    ///
    /// `log::SetLoggerError` if a logger was set already.
    pub fn install(self) -> std::result::Result<PubLogStats, log::SetLoggerError> {
        let stats = self.stats();
        let level = self.level;
        log::set_logger(Box::leak(Box::new(self)))?;
        log::set_max_level(level);
        Ok(stats)
    }

    /// The topic and text pyzmq's handler would publish for `record`.
    pub fn format(&self, record: &Record<'_>) -> (String, String) {
        self.format_at(PyLevel::from(record.level()), record)
    }

    /// [`format`](Self::format) at Python's `level` rather than the
    /// record's own.
    pub fn format_at(&self, level: PyLevel, record: &Record<'_>) -> (String, String) {
        let message = record.args().to_string();
        let (subtopic, message) = match self.subtopic {
            Subtopic::Message => match message.split_once("::") {
                Some((subtopic, rest)) => (subtopic.to_string(), rest.to_string()),
                None => (String::new(), message),
            },
            Subtopic::Target => (record.target().replace("::", "."), message),
            Subtopic::None => (String::new(), message),
        };
        let file = record
            .file()
            .map(|path| path.rsplit(['/', '\\']).next().unwrap_or(path))
            .unwrap_or("(unknown file)");
        let line = record.line().unwrap_or(0);
        let text = match level {
            PyLevel::Info => format!("{message}\n"),
            PyLevel::Error => format!("{level} {file}:{line} - {message} - None\n"),
            PyLevel::Debug | PyLevel::Warning | PyLevel::Critical => {
                format!("{level} {file}:{line} - {message}\n")
            }
        };
        (topic(&self.root_topic, level, &subtopic), text)
    }
}

impl Log for PubLogHandler {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= self.level
    }

    /// Formats the record on this thread and queues it for the reactor
    /// thread, without waiting: a full queue drops it (and counts it), and
    /// a record logged from inside the handler is skipped (and counted).
    fn log(&self, record: &Record<'_>) {
        self.log_at(PyLevel::from(record.level()), record);
    }

    fn flush(&self) {}
}

impl PubLogHandler {
    /// Publishes `record` at Python's `level` instead of the record's own:
    /// for `CRITICAL`, which Rust's levels lack (pyzmq's
    /// `logger.critical(...)`). Otherwise as [`Log::log`]: never waits, and
    /// drops (counting) when the queue is full.
    ///
    /// ```
    /// # use tx0mq_connections::{ZmqEndpoint, ZmqFactory, ZmqPubConnection};
    /// use tx0mq_connections::log_handler::{PubLogHandler, PyLevel};
    /// # let reactor = tx0mq_reactor::Reactor::builder().handle_signals(false).build()?;
    /// # let factory = ZmqFactory::new(&reactor)?;
    /// # let publisher = ZmqPubConnection::new(&factory, ZmqEndpoint::bind("inproc://doc-critical"))?;
    /// let handler = PubLogHandler::new(&publisher)?;
    /// let record = log::Record::builder().args(format_args!("disk on fire")).build();
    /// handler.log_at(PyLevel::Critical, &record);
    /// assert_eq!(handler.format_at(PyLevel::Critical, &record).0, "CRITICAL");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn log_at(&self, level: PyLevel, record: &Record<'_>) {
        if level.to_log() > self.level {
            return;
        }
        let Some(_busy) = Busy::enter() else {
            self.counters.reentrant.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let (topic, text) = self.format_at(level, record);
        if self
            .queue
            .try_send((topic.into_bytes(), text.into_bytes()))
            .is_err()
        {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
        if !self.counters.wake_pending.swap(true, Ordering::SeqCst) && !(self.wake)() {
            self.counters.wake_pending.store(false, Ordering::SeqCst);
        }
    }
}

/// A record as a pyzmq `PUBHandler` (or ours) publishes it, parsed: what a
/// log subscriber needs (pyzmq's `zmqlogger` example reads the level from
/// the topic and logs the text).
///
/// ```
/// use tx0mq_connections::log_handler::{PubLogRecord, PyLevel};
/// use tx0mq_connections::Frame;
///
/// let frames = [Frame::from(&b"app.WARNING.net.tcp"[..]), Frame::from(&b"WARNING x.py:3 - slow\n"[..])];
/// let record = PubLogRecord::parse(&frames)?;
/// assert_eq!(record.root_topic, "app");
/// assert_eq!(record.level, PyLevel::Warning);
/// assert_eq!(record.subtopic, "net.tcp");
/// assert_eq!(record.text, "WARNING x.py:3 - slow");
/// # Ok::<(), String>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PubLogRecord {
    /// The topic's part before the level (empty if none).
    pub root_topic: String,
    /// The level, from the topic.
    pub level: PyLevel,
    /// The topic's part after the level (empty if none).
    pub subtopic: String,
    /// The text, with one trailing newline taken off (as pyzmq's
    /// `zmqlogger` does before logging it again); not UTF-8 is replaced
    /// with U+FFFD.
    pub text: String,
}

impl PubLogRecord {
    /// Parses a message of two frames: the topic `ROOT.LEVEL.SUBTOPIC`
    /// (the level is the first dot-separated part that names one of
    /// Python's five levels) and the text.
    ///
    /// # Errors
    ///
    /// A description of what is wrong (frame count, a topic that is not
    /// UTF-8 or names no level), quoting the topic.
    pub fn parse(frames: &[Frame]) -> std::result::Result<PubLogRecord, String> {
        let [topic, text] = frames else {
            return Err(format!(
                "a log record is 2 frames (topic, text), this message has {}",
                frames.len()
            ));
        };
        let topic = std::str::from_utf8(topic).map_err(|_| {
            format!(
                "the topic {} is not UTF-8",
                crate::frames::bytes_repr(&topic[..])
            )
        })?;
        let parts: Vec<&str> = topic.split('.').collect();
        let Some((at, level)) = parts
            .iter()
            .enumerate()
            .find_map(|(at, part)| PyLevel::from_name(part).map(|level| (at, level)))
        else {
            return Err(format!(
                "the topic {topic:?} names no level (DEBUG, INFO, WARNING, ERROR, CRITICAL)"
            ));
        };
        let mut text = String::from_utf8_lossy(text).into_owned();
        if text.ends_with('\n') {
            text.pop();
        }
        Ok(PubLogRecord {
            root_topic: parts[..at].join("."),
            level,
            subtopic: parts[at + 1..].join("."),
            text,
        })
    }
}
