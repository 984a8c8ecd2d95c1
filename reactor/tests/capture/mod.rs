//! A logger for tests that keeps each test thread's records apart, so tests
//! can run in parallel and still see only their own log lines.

use std::cell::RefCell;
use std::sync::Once;

struct ThreadLogger;

thread_local! {
    static RECORDS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

impl log::Log for ThreadLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let line = format!("{} {}", record.level(), record.args());
        RECORDS.with(|records| records.borrow_mut().push(line));
    }

    fn flush(&self) {}
}

static LOGGER: ThreadLogger = ThreadLogger;
static INIT: Once = Once::new();

/// Runs `f` and returns the error-level lines logged on this thread meanwhile.
pub fn errors_during(f: impl FnOnce()) -> Vec<String> {
    INIT.call_once(|| {
        log::set_logger(&LOGGER).expect("no other logger in this test binary");
        log::set_max_level(log::LevelFilter::Trace);
    });
    RECORDS.with(|records| records.borrow_mut().clear());
    f();
    RECORDS.with(|records| {
        records
            .borrow_mut()
            .drain(..)
            .filter(|line| line.starts_with("ERROR"))
            .collect()
    })
}
