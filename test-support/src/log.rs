//! Capturing `log` records in tests, so a test can assert what the library
//! logged (an unhandled failure, a dropped malformed message) and that
//! nothing went wrong.
//!
//! [`capture`] installs the capturing logger (once per test binary) and
//! starts a fresh record for the calling thread: tests run in parallel on
//! threads of their own and each sees only what was logged on its thread.
//! [`AllThreads`] also collects what other threads log, while it lives.
//! Every record is also printed to the test's captured output, which
//! `cargo test` shows when the test fails.
//!
//! ```
//! use tx0mq_test_support::log as logs;
//!
//! logs::capture();
//! log::warn!("dropped a message with no topic separator");
//! assert!(logs::contains(log::Level::Warn, "no topic separator"));
//! assert!(logs::errors().is_empty());
//! ```

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use ::log::{Level, LevelFilter, Log, Metadata};

/// One captured record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Its level.
    pub level: Level,
    /// Its target (by default the module that logged it).
    pub target: String,
    /// The formatted message.
    pub message: String,
}

struct Capture;

thread_local! {
    static RECORDS: RefCell<Vec<Record>> = const { RefCell::new(Vec::new()) };
}

/// How many [`AllThreads`] guards are alive.
static ALL_THREADS_GUARDS: AtomicUsize = AtomicUsize::new(0);
/// What every thread logged while an [`AllThreads`] guard was alive.
static ALL_THREADS: Mutex<Vec<Record>> = Mutex::new(Vec::new());

impl Log for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &::log::Record<'_>) {
        let record = Record {
            level: record.level(),
            target: record.target().to_string(),
            message: record.args().to_string(),
        };
        eprintln!("[{} {}] {}", record.level, record.target, record.message);
        if ALL_THREADS_GUARDS.load(Ordering::SeqCst) > 0 {
            all_threads().push(record.clone());
        }
        // A record logged while the thread is being torn down is dropped.
        let _ = RECORDS.try_with(|records| records.borrow_mut().push(record));
    }

    fn flush(&self) {}
}

fn all_threads() -> std::sync::MutexGuard<'static, Vec<Record>> {
    ALL_THREADS.lock().unwrap_or_else(|p| p.into_inner())
}

static CAPTURE: Capture = Capture;

/// Installs the capturing logger (the first call in a test binary; it
/// records every level down to `Debug`) and forgets this thread's earlier
/// records. Call it first in a test.
///
/// Fails the test if the binary already has another logger (`env_logger`,
/// say): its records would never be captured.
pub fn capture() {
    static INSTALLED: OnceLock<bool> = OnceLock::new();
    let installed = *INSTALLED.get_or_init(|| {
        let ok = ::log::set_logger(&CAPTURE).is_ok();
        if ok {
            ::log::set_max_level(LevelFilter::Debug);
        }
        ok
    });
    assert!(
        installed,
        "another logger is installed in this test binary; the log capture cannot work"
    );
    RECORDS.with(|records| records.borrow_mut().clear());
}

/// This thread's records since [`capture`].
pub fn records() -> Vec<Record> {
    RECORDS.with(|records| records.borrow().clone())
}

/// Whether a record at `level` on this thread contains `needle`.
pub fn contains(level: Level, needle: &str) -> bool {
    count(level, needle) > 0
}

/// How many records at `level` on this thread contain `needle`.
pub fn count(level: Level, needle: &str) -> usize {
    RECORDS.with(|records| {
        records
            .borrow()
            .iter()
            .filter(|r| r.level == level && r.message.contains(needle))
            .count()
    })
}

/// This thread's error-level messages, for "nothing went wrong" assertions.
pub fn errors() -> Vec<String> {
    RECORDS.with(|records| {
        records
            .borrow()
            .iter()
            .filter(|r| r.level == Level::Error)
            .map(|r| r.message.clone())
            .collect()
    })
}

/// Runs `f` and returns the error-level messages logged on this thread
/// meanwhile (it calls [`capture`] first, so earlier records are forgotten).
pub fn errors_during(f: impl FnOnce()) -> Vec<String> {
    capture();
    f();
    let errors = errors();
    RECORDS.with(|records| records.borrow_mut().clear());
    errors
}

/// Collects the records of every thread while it lives: for a test that
/// checks what the library logs on threads of its own. Records from tests
/// running in parallel land here too, so look for what only this test logs.
#[must_use = "records are collected only while the guard lives"]
pub struct AllThreads(());

impl AllThreads {
    /// Installs the capture (see [`capture`]) and starts collecting.
    pub fn start() -> AllThreads {
        capture();
        ALL_THREADS_GUARDS.fetch_add(1, Ordering::SeqCst);
        AllThreads(())
    }

    /// Every thread's records since the first live guard started.
    pub fn records(&self) -> Vec<Record> {
        all_threads().clone()
    }

    /// Whether a record at `level`, from any thread, contains `needle`.
    pub fn contains(&self, level: Level, needle: &str) -> bool {
        all_threads()
            .iter()
            .any(|r| r.level == level && r.message.contains(needle))
    }
}

impl Drop for AllThreads {
    fn drop(&mut self) {
        if ALL_THREADS_GUARDS.fetch_sub(1, Ordering::SeqCst) == 1 {
            all_threads().clear();
        }
    }
}
