//! Helpers shared by the connections crate's integration tests: reactors,
//! unique endpoints, deadlines, a raw-socket peer loop and a log capture.
//!
//! Every wait here has a deadline and fails the test with a message naming
//! what it was waiting for; nothing sleeps to synchronise.

#![allow(dead_code)] // each test binary uses a different subset

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tx0mq_connections::{Frame, Multipart};
use tx0mq_reactor::{Deferred, Failure, Reactor};

/// How long any single wait may take before the test fails. Generous: the
/// tests run in parallel on small, loaded machines.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Bind here and read `last_endpoint()` for a free TCP port.
pub const TCP_ANY: &str = "tcp://127.0.0.1:*";

/// A real-clock reactor that leaves signals alone, with `state`.
pub fn reactor<S: 'static>(state: S) -> Reactor<S> {
    Reactor::builder()
        .state(state)
        .handle_signals(false)
        .build()
        .expect("build a reactor")
}

/// A reactor whose clock moves only on `advance` (Twisted's `task.Clock`);
/// its sockets still do real I/O on `iterate`.
pub fn fake_clock_reactor<S: 'static>(state: S) -> Reactor<S> {
    Reactor::builder()
        .state(state)
        .handle_signals(false)
        .fake_clock()
        .build()
        .expect("build a fake-clock reactor")
}

fn unique(name: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{name}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// An `inproc://` address no other test uses.
pub fn inproc(name: &str) -> String {
    format!("inproc://{}", unique(name))
}

/// An `ipc://` address (a socket file in the temp directory) no other test
/// uses. libzmq removes the file when the bound socket closes.
pub fn ipc(name: &str) -> String {
    let path = std::env::temp_dir().join(format!("tx0mq-{}", unique(name)));
    format!("ipc://{}", path.display())
}

/// Runs the reactor until one of its callbacks stops it. A watchdog stops it
/// after `limit` instead, and the test then fails naming `what`.
pub fn run_with_watchdog<S: 'static>(reactor: &Reactor<S>, limit: Duration, what: &str) {
    let fired = Rc::new(Cell::new(false));
    let flag = fired.clone();
    let watchdog = reactor.call_later(limit, move |cx| {
        flag.set(true);
        cx.reactor.stop()
    });
    reactor.run().expect("run the reactor");
    if watchdog.active() {
        let _ = watchdog.cancel();
    }
    assert!(!fired.get(), "timed out after {limit:?} waiting for {what}");
}

/// Iterates the reactor until `done(state)` holds; fails naming `what` after
/// [`DEADLINE`].
pub fn iterate_until<S: 'static>(
    reactor: &Reactor<S>,
    what: &str,
    mut done: impl FnMut(&mut S) -> bool,
) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if reactor.access_state(&mut done).expect("state is free") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {DEADLINE:?} waiting for {what}"
        );
        reactor
            .iterate(Duration::from_millis(10))
            .expect("iterate the reactor");
    }
}

/// Iterates the reactor until `done()` holds (for conditions outside the
/// reactor state: a Deferred's outcome, captured logs...).
pub fn iterate_until_cond<S: 'static>(
    reactor: &Reactor<S>,
    what: &str,
    mut done: impl FnMut() -> bool,
) {
    iterate_until(reactor, what, |_| done());
}

/// A few passes with no waiting: lets already-pending work run.
pub fn settle<S: 'static>(reactor: &Reactor<S>) {
    for _ in 0..5 {
        reactor
            .iterate(Duration::ZERO)
            .expect("iterate the reactor");
    }
}

/// Receives one message on a raw (blocking-API) socket without blocking the
/// reactor: the reactor and the socket take turns until a message is there.
pub fn raw_recv<S: 'static>(
    reactor: &Reactor<S>,
    socket: &zmq::Socket,
    what: &str,
) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        reactor
            .iterate(Duration::ZERO)
            .expect("iterate the reactor");
        match socket.recv_multipart(zmq::DONTWAIT) {
            Ok(message) => return message,
            Err(zmq::Error::EAGAIN) => {}
            Err(e) => panic!("raw socket failed while waiting for {what}: {e}"),
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {DEADLINE:?} waiting for {what}"
        );
        socket.poll(zmq::POLLIN, 5).expect("poll the raw socket");
    }
}

/// Sends a multipart message on a raw socket (it must not block: the peer is
/// connected or the socket queues).
pub fn raw_send(socket: &zmq::Socket, frames: &[&[u8]]) {
    socket
        .send_multipart(frames.iter().copied(), zmq::DONTWAIT)
        .expect("raw send");
}

/// The frames of a message as byte vectors, for comparisons.
pub fn frames(message: &[Frame]) -> Vec<Vec<u8>> {
    message.iter().map(|f| f.to_vec()).collect()
}

/// `[b"a", b"b"]` as owned frames, for comparisons.
pub fn bytes(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.to_vec()).collect()
}

/// What a request's Deferred fired with (every time it fired: a Deferred
/// must fire once, and a test can check that).
#[derive(Clone, Default)]
pub struct Outcome(Rc<RefCell<Vec<Reply>>>);

/// A reply's frames, or why there is none.
pub type Reply = Result<Vec<Vec<u8>>, Failure>;

impl Outcome {
    /// Records the outcome of `deferred`, ending its chain (so an expected
    /// failure is not logged as unhandled).
    pub fn of(deferred: &Deferred<Multipart>) -> Self {
        let outcome = Outcome::default();
        let out = outcome.0.clone();
        deferred.add_both(move |result| {
            out.borrow_mut().push(result.map(|m| frames(&m)));
            Ok(Multipart::new())
        });
        outcome
    }

    /// Whether the Deferred fired.
    pub fn fired(&self) -> bool {
        !self.0.borrow().is_empty()
    }

    /// How many times it fired.
    pub fn times(&self) -> usize {
        self.0.borrow().len()
    }

    /// The reply it fired with; fails the test if it failed or has not fired.
    pub fn value(&self) -> Vec<Vec<u8>> {
        match self.0.borrow().first() {
            Some(Ok(value)) => value.clone(),
            Some(Err(failure)) => panic!("the request failed: {failure}"),
            None => panic!("the request's Deferred has not fired"),
        }
    }

    /// The failure it fired with; fails the test if it succeeded or has not fired.
    pub fn failure(&self) -> Failure {
        match self.0.borrow().first() {
            Some(Err(failure)) => failure.clone(),
            Some(Ok(value)) => panic!("the request succeeded with {value:?}, expected a failure"),
            None => panic!("the request's Deferred has not fired"),
        }
    }
}

/// Captures `log` records per thread, so a test can assert what a connection
/// logged (a dropped malformed message, say). Records are also printed to
/// the test's captured output, which shows on failure.
pub mod logs {
    use std::cell::RefCell;
    use std::sync::Once;

    use log::{Level, LevelFilter, Log, Metadata, Record};

    struct Capture;

    thread_local! {
        static RECORDS: RefCell<Vec<(Level, String)>> = const { RefCell::new(Vec::new()) };
    }

    impl Log for Capture {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &Record<'_>) {
            let line = record.args().to_string();
            eprintln!("[{} {}] {line}", record.level(), record.target());
            RECORDS.with(|r| r.borrow_mut().push((record.level(), line)));
        }
        fn flush(&self) {}
    }

    static CAPTURE: Capture = Capture;

    /// Installs the capture (once per test binary) and forgets this thread's
    /// earlier records. Call it first in a test.
    pub fn capture() {
        static INSTALL: Once = Once::new();
        INSTALL.call_once(|| {
            if log::set_logger(&CAPTURE).is_ok() {
                log::set_max_level(LevelFilter::Debug);
            }
        });
        RECORDS.with(|r| r.borrow_mut().clear());
    }

    /// This thread's records so far.
    pub fn records() -> Vec<(Level, String)> {
        RECORDS.with(|r| r.borrow().clone())
    }

    /// Whether a record at `level` contains `needle`.
    pub fn contains(level: Level, needle: &str) -> bool {
        RECORDS.with(|r| {
            r.borrow()
                .iter()
                .any(|(l, line)| *l == level && line.contains(needle))
        })
    }

    /// How many records at `level` contain `needle`.
    pub fn count(level: Level, needle: &str) -> usize {
        RECORDS.with(|r| {
            r.borrow()
                .iter()
                .filter(|(l, line)| *l == level && line.contains(needle))
                .count()
        })
    }

    /// Records at error level, for "nothing went wrong" assertions.
    pub fn errors() -> Vec<String> {
        RECORDS.with(|r| {
            r.borrow()
                .iter()
                .filter(|(l, _)| *l == Level::Error)
                .map(|(_, line)| line.clone())
                .collect()
        })
    }
}
