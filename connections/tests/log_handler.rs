//! The `log` handler that publishes (pyzmq's `PUBHandler`): pyzmq's
//! framing, records from any thread, a full queue that drops and counts
//! instead of blocking, no recursion when logging from inside the handler,
//! and both directions against pyzmq's own handler and a pyzmq SUB.
//!
//! Only `the_handler_never_recurses` installs the handler as the process's
//! logger; the other tests call their handler directly, so they run in
//! parallel in this one process. Every wait has a deadline.

use std::fmt;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use log::{Level, Log, Record};
use tx0mq_connections::log_handler::{PubLogHandler, PubLogRecord, PyLevel, Subtopic};
use tx0mq_connections::{Multipart, ZmqConnection, ZmqEndpoint, ZmqFactory, ZmqPubConnection};
use tx0mq_reactor::Reactor;
use tx0mq_test_support::python_or_skip;
use tx0mq_test_support::reactor::{iterate_until_cond, run_with_watchdog};

/// How long one step may take on a loaded machine.
const STEP: Duration = Duration::from_secs(30);

fn reactor() -> Reactor {
    tx0mq_test_support::reactor::reactor(())
}

/// Logs `message` at `level` through `handler`, from `lib.rs` line 42.
fn log_at(handler: &dyn Log, level: Level, message: fmt::Arguments<'_>) {
    handler.log(
        &Record::builder()
            .level(level)
            .target("app::net")
            .file(Some("src/lib.rs"))
            .line(Some(42))
            .args(message)
            .build(),
    );
}

/// A SUB connection (raw, as pyzmq's log subscribers are) bound at
/// `address`, collecting every message.
fn subscriber(
    factory: &ZmqFactory,
    endpoint: ZmqEndpoint,
) -> (ZmqConnection, Arc<Mutex<Vec<Multipart>>>) {
    let sub = ZmqConnection::new(factory, zmq::SUB, endpoint).unwrap();
    sub.with_socket(|s| s.set_subscribe(b"")).unwrap().unwrap();
    let got: Arc<Mutex<Vec<Multipart>>> = Arc::default();
    let sink = got.clone();
    sub.on_event(move |_, message| sink.lock().unwrap().push(message));
    (sub, got)
}

/// Sends probes on `publisher` until `got` has one (the subscription has
/// arrived), then forgets them.
fn joined(r: &Reactor, publisher: &ZmqPubConnection, got: &Mutex<Vec<Multipart>>) {
    let deadline = Instant::now() + STEP;
    while got.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the subscription never arrived");
        publisher.send(b"probe").unwrap();
        r.iterate(Duration::from_millis(10)).unwrap();
    }
    got.lock().unwrap().clear();
}

fn text(frame: &[u8]) -> String {
    String::from_utf8_lossy(frame).into_owned()
}

#[test]
fn records_are_formatted_as_pyzmqs_handler_formats_them() {
    let r = reactor();
    let factory = ZmqFactory::new(&r).unwrap();
    let publisher =
        ZmqPubConnection::new(&factory, ZmqEndpoint::bind("inproc://log-format")).unwrap();
    let handler = PubLogHandler::new(&publisher).unwrap();
    let format = |handler: &PubLogHandler, level, message: &str| {
        handler.format(
            &Record::builder()
                .level(level)
                .target("app::net")
                .file(Some("src/deep/lib.rs"))
                .line(Some(42))
                .args(format_args!("{message}"))
                .build(),
        )
    };
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(format(&handler, Level::Info, "hi"), pair("INFO", "hi\n"));
    assert_eq!(
        format(&handler, Level::Debug, "hi"),
        pair("DEBUG", "DEBUG lib.rs:42 - hi\n")
    );
    assert_eq!(
        format(&handler, Level::Trace, "hi"),
        pair("DEBUG", "DEBUG lib.rs:42 - hi\n")
    );
    assert_eq!(
        format(&handler, Level::Warn, "net.tcp::slow"),
        pair("WARNING.net.tcp", "WARNING lib.rs:42 - slow\n")
    );
    assert_eq!(
        format(&handler, Level::Error, "down"),
        pair("ERROR", "ERROR lib.rs:42 - down - None\n")
    );
    let handler = handler.root_topic("app").subtopic(Subtopic::Target);
    assert_eq!(
        format(&handler, Level::Info, "a::b"),
        pair("app.INFO.app.net", "a::b\n")
    );
    let handler = handler.subtopic(Subtopic::None);
    assert_eq!(
        format(&handler, Level::Info, "a::b"),
        pair("app.INFO", "a::b\n")
    );
    factory.shutdown();
}

#[test]
fn records_logged_on_other_threads_are_published_on_the_reactor_thread() {
    let r = reactor();
    let factory = ZmqFactory::new(&r).unwrap();
    let address = tx0mq_test_support::net::inproc("log-threads");
    let publisher = ZmqPubConnection::new(&factory, ZmqEndpoint::bind(&address)).unwrap();
    let (_sub, got) = subscriber(&factory, ZmqEndpoint::connect(&address));
    joined(&r, &publisher, &got);
    let handler = Arc::new(PubLogHandler::new(&publisher).unwrap().root_topic("t"));
    let stats = handler.stats();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let handler = handler.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    log_at(
                        &*handler,
                        Level::Info,
                        format_args!("thread {t} record {i}"),
                    );
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    iterate_until_cond(&r, "100 records", || got.lock().unwrap().len() == 100);
    let got = got.lock().unwrap();
    for message in got.iter() {
        let record = PubLogRecord::parse(message).unwrap();
        assert_eq!(
            (record.root_topic.as_str(), record.level),
            ("t", PyLevel::Info)
        );
        assert!(record.text.starts_with("thread "), "{}", record.text);
    }
    assert_eq!((stats.published(), stats.dropped()), (100, 0));
    factory.shutdown();
}

#[test]
fn a_full_queue_drops_and_counts_instead_of_blocking() {
    let r = reactor();
    let factory = ZmqFactory::new(&r).unwrap();
    let address = tx0mq_test_support::net::inproc("log-full");
    let publisher = ZmqPubConnection::new(&factory, ZmqEndpoint::bind(&address)).unwrap();
    let (_sub, got) = subscriber(&factory, ZmqEndpoint::connect(&address));
    joined(&r, &publisher, &got);
    let capacity = NonZeroUsize::new(4).unwrap();
    let handler = PubLogHandler::with_capacity(&publisher, capacity).unwrap();
    let stats = handler.stats();
    // The reactor does not run meanwhile: nothing drains the queue.
    let started = Instant::now();
    for i in 0..100 {
        log_at(&handler, Level::Info, format_args!("record {i}"));
    }
    assert!(started.elapsed() < Duration::from_secs(2), "logging waited");
    assert_eq!(stats.dropped(), 96);
    assert_eq!(stats.published(), 0);
    // The four queued, then the report of the drops.
    iterate_until_cond(&r, "five messages", || got.lock().unwrap().len() == 5);
    let got = got.lock().unwrap();
    let texts: Vec<String> = got.iter().map(|m| text(&m[1])).collect();
    assert_eq!(
        texts[..4],
        ["record 0\n", "record 1\n", "record 2\n", "record 3\n"]
    );
    assert_eq!(text(&got[4][0]), "WARNING");
    assert!(
        texts[4].contains("96 log record(s) dropped"),
        "{}",
        texts[4]
    );
    assert_eq!(stats.published(), 5);
    factory.shutdown();
}

#[test]
fn what_is_queued_when_the_handler_is_dropped_is_still_published() {
    let r = reactor();
    let factory = ZmqFactory::new(&r).unwrap();
    let address = tx0mq_test_support::net::inproc("log-drop");
    let publisher = ZmqPubConnection::new(&factory, ZmqEndpoint::bind(&address)).unwrap();
    let (_sub, got) = subscriber(&factory, ZmqEndpoint::connect(&address));
    joined(&r, &publisher, &got);
    let handler = PubLogHandler::new(&publisher).unwrap();
    let stats = handler.stats();
    std::thread::spawn(move || {
        for i in 0..3 {
            log_at(&handler, Level::Info, format_args!("last words {i}"));
        }
    })
    .join()
    .unwrap();
    iterate_until_cond(&r, "three records", || got.lock().unwrap().len() == 3);
    assert_eq!((stats.published(), stats.dropped()), (3, 0));
    factory.shutdown();
}

/// Logs from inside its own `Display`: a record formatted by the handler
/// logs another, which must be skipped, not handled again.
struct Noisy;

impl fmt::Display for Noisy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        log::warn!("logged while formatting");
        f.write_str("noisy")
    }
}

#[test]
fn the_handler_never_recurses() {
    let r = reactor();
    let factory = ZmqFactory::new(&r).unwrap();
    let address = tx0mq_test_support::net::inproc("log-recursion");
    let publisher = ZmqPubConnection::new(&factory, ZmqEndpoint::bind(&address)).unwrap();
    let (_sub, got) = subscriber(&factory, ZmqEndpoint::connect(&address));
    joined(&r, &publisher, &got);
    let handler = PubLogHandler::new(&publisher)
        .unwrap()
        .root_topic("recursion")
        .level(log::LevelFilter::Debug);
    let stats = handler
        .install()
        .expect("the only logger of this test binary");
    // From another thread, and from the reactor thread in a callback.
    std::thread::spawn(|| log::info!("{}", Noisy))
        .join()
        .unwrap();
    r.call_later(Duration::ZERO, |_| log::info!("{}", Noisy));
    let mine = |m: &Multipart| text(&m[0]).starts_with("recursion.");
    iterate_until_cond(&r, "both noisy records", || {
        got.lock()
            .unwrap()
            .iter()
            .filter(|m| mine(m) && text(&m[1]) == "noisy\n")
            .count()
            == 2
    });
    assert!(stats.reentrant() >= 2, "the inner records were skipped");
    let got = got.lock().unwrap();
    assert!(
        got.iter()
            .all(|m| !text(&m[1]).contains("logged while formatting")),
        "a record logged inside the handler was published"
    );
    factory.shutdown();
}

#[test]
fn a_record_parses_back_and_bad_ones_are_refused_saying_why() {
    let frames = |topic: &[u8], text: &[u8]| -> Vec<tx0mq_connections::Frame> {
        vec![topic.into(), text.into()]
    };
    let record = PubLogRecord::parse(&frames(b"a.b.CRITICAL.x", b"CRITICAL f.py:1 - m\n")).unwrap();
    assert_eq!(record.root_topic, "a.b");
    assert_eq!(record.level, PyLevel::Critical);
    assert_eq!(record.level.to_log(), Level::Error);
    assert_eq!(record.subtopic, "x");
    assert_eq!(record.text, "CRITICAL f.py:1 - m");
    let e = PubLogRecord::parse(&frames(b"app.NOTICE", b"m")).unwrap_err();
    assert!(e.contains("\"app.NOTICE\" names no level"), "{e}");
    let e = PubLogRecord::parse(&[b"INFO"[..].into()]).unwrap_err();
    assert!(e.contains("has 1"), "{e}");
    let e = PubLogRecord::parse(&frames(&[0xff, b'I'], b"m")).unwrap_err();
    assert!(e.contains("not UTF-8"), "{e}");
}

#[test]
fn interop_a_pyzmq_subscriber_reads_our_records() {
    let env = python_or_skip!("interop_a_pyzmq_subscriber_reads_our_records");
    let port = tx0mq_test_support::net::free_port();
    let endpoint = format!("tcp://127.0.0.1:{port}");
    let mut peer = env.run_peer("pub_log.py", &["subscribe", &endpoint, "10"]);
    peer.expect_line("READY", STEP);
    let r = reactor();
    let factory = ZmqFactory::new(&r).unwrap();
    let publisher = ZmqPubConnection::new(&factory, ZmqEndpoint::connect(&endpoint)).unwrap();
    let handler = Arc::new(PubLogHandler::new(&publisher).unwrap().root_topic("rust"));
    let stop = Arc::new(AtomicBool::new(false));
    // A thread logs until the peer has its ten (the first records may go
    // before the connection is up: PUB drops them, by design).
    let logger = {
        let (handler, stop) = (handler.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let level = [
                    Level::Error,
                    Level::Warn,
                    Level::Info,
                    Level::Debug,
                    Level::Trace,
                ][n % 5];
                if level == Level::Warn {
                    log_at(&*handler, level, format_args!("net.tcp::record {n}"));
                } else {
                    log_at(&*handler, level, format_args!("record {n}"));
                }
                n += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let handle = r.thread_handle();
    let reader = std::thread::spawn(move || {
        let lines: Vec<String> = (0..10).map(|_| peer.line(STEP)).collect();
        let _ = handle.call_from_thread(|cx| cx.reactor.stop());
        lines
    });
    run_with_watchdog(&r, STEP, "ten records at the pyzmq subscriber");
    stop.store(true, Ordering::SeqCst);
    logger.join().unwrap();
    let lines = reader.join().unwrap();
    for line in lines {
        let [topic, text]: [String; 2] = serde_json::from_str(&line).unwrap();
        let n: usize = text
            .split("record ")
            .nth(1)
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|digits| digits.parse().ok())
            .unwrap_or_else(|| panic!("no record number in {line}"));
        let (want_topic, want_text) = match n % 5 {
            0 => (
                "rust.ERROR",
                format!("ERROR lib.rs:42 - record {n} - None\n"),
            ),
            1 => (
                "rust.WARNING.net.tcp",
                format!("WARNING lib.rs:42 - record {n}\n"),
            ),
            2 => ("rust.INFO", format!("record {n}\n")),
            _ => ("rust.DEBUG", format!("DEBUG lib.rs:42 - record {n}\n")),
        };
        assert_eq!((topic.as_str(), text), (want_topic, want_text), "{line}");
    }
    factory.shutdown();
}

#[test]
fn interop_we_read_pyzmqs_pubhandler() {
    let env = python_or_skip!("interop_we_read_pyzmqs_pubhandler");
    let r = reactor();
    let factory = ZmqFactory::new(&r).unwrap();
    let (sub, got) = subscriber(&factory, ZmqEndpoint::bind("tcp://127.0.0.1:*"));
    let endpoint = sub.last_endpoint().unwrap();
    let mut peer = env.run_peer("pub_log.py", &["publish", &endpoint, "--root-topic", "py"]);
    peer.expect_line("PUBLISHING", STEP);
    // Until every level has been heard.
    iterate_until_cond(&r, "a record of each level from pyzmq", || {
        let got = got.lock().unwrap();
        let levels: std::collections::HashSet<PyLevel> = got
            .iter()
            .filter_map(|m| PubLogRecord::parse(m).ok())
            .map(|record| record.level)
            .collect();
        levels.len() == 5
    });
    let got = got.lock().unwrap();
    for message in got.iter() {
        let record = PubLogRecord::parse(message).unwrap();
        assert_eq!(record.root_topic, "py");
        let n = record.text.rsplit("record ").next().unwrap_or("");
        let n: usize = n
            .split(' ')
            .next()
            .unwrap_or("")
            .parse()
            .unwrap_or(usize::MAX);
        let want = PyLevel::ALL[n % 5];
        assert_eq!(record.level, want, "{record:?}");
        match record.level {
            PyLevel::Info => assert_eq!(record.text, format!("record {n}")),
            PyLevel::Warning => {
                assert_eq!(record.subtopic, "net.tcp");
                assert!(record.text.starts_with("WARNING pub_log.py:"), "{record:?}");
                assert!(
                    record.text.ends_with(&format!(" - record {n}")),
                    "{record:?}"
                );
            }
            PyLevel::Error => {
                assert!(
                    record.text.ends_with(&format!(" - record {n} - None")),
                    "{record:?}"
                )
            }
            level => {
                assert!(
                    record.text.starts_with(&format!("{level} pub_log.py:")),
                    "{record:?}"
                );
                assert_eq!(record.subtopic, "");
            }
        }
    }
    factory.shutdown();
}
