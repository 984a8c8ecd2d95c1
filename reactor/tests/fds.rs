//! Readers and writers on plain file descriptors (Twisted's IReactorFDSet),
//! and edge-triggered sources.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tx0mq_reactor::{Error, Reactor};
use tx0mq_test_support::reactor::iterate_until_cond;

fn reactor() -> Reactor<Vec<String>> {
    tx0mq_test_support::reactor::reactor(Vec::new())
}

fn log(r: &Reactor<Vec<String>>) -> Vec<String> {
    r.access_state(|l| l.clone()).expect("state")
}

#[test]
fn a_reader_is_called_when_its_pipe_has_data() {
    let r = reactor();
    let (mut rx, mut tx) = tx0mq_test_support::pipe().unwrap();
    let fd = rx.as_raw_fd();
    r.add_reader(fd, move |cx| {
        let mut buf = [0u8; 16];
        let n = rx.read(&mut buf).unwrap();
        cx.state
            .push(String::from_utf8_lossy(&buf[..n]).into_owned());
    })
    .unwrap();
    assert_eq!(r.get_readers(), [fd]);
    tx.write_all(b"hello").unwrap();
    iterate_until_cond(&r, "the reader", || !log(&r).is_empty());
    assert_eq!(log(&r), ["hello"]);
    assert!(r.remove_reader(fd));
}

#[test]
fn a_reader_that_reads_part_of_the_data_is_called_again() {
    // Level-triggered, as in Twisted: unread data means another call.
    let r = reactor();
    let (mut rx, mut tx) = tx0mq_test_support::pipe().unwrap();
    let fd = rx.as_raw_fd();
    r.add_reader(fd, move |cx| {
        let mut byte = [0u8; 1];
        rx.read_exact(&mut byte).unwrap();
        cx.state.push((byte[0] as char).to_string());
    })
    .unwrap();
    tx.write_all(b"abc").unwrap();
    iterate_until_cond(&r, "three reads", || log(&r).len() == 3);
    assert_eq!(log(&r), ["a", "b", "c"]);
    r.remove_reader(fd);
}

#[test]
fn a_reader_can_remove_itself_and_is_not_called_again() {
    let r = reactor();
    let (mut rx, mut tx) = tx0mq_test_support::pipe().unwrap();
    let fd = rx.as_raw_fd();
    r.add_reader(fd, move |cx| {
        let mut byte = [0u8; 1];
        rx.read_exact(&mut byte).unwrap();
        cx.state.push("read".into());
        assert!(cx.reactor.remove_reader(fd));
    })
    .unwrap();
    tx.write_all(b"xyz").unwrap();
    iterate_until_cond(&r, "the first read", || !log(&r).is_empty());
    for _ in 0..5 {
        r.iterate(Duration::from_millis(5)).unwrap();
    }
    assert_eq!(log(&r), ["read"]);
    assert!(r.get_readers().is_empty());
}

#[test]
fn a_reader_can_replace_itself_from_inside() {
    let r = reactor();
    let (rx, mut tx) = tx0mq_test_support::pipe().unwrap();
    let rx = Rc::new(std::cell::RefCell::new(rx));
    let fd = rx.borrow().as_raw_fd();
    let first = rx.clone();
    r.add_reader(fd, move |cx| {
        let mut byte = [0u8; 1];
        first.borrow_mut().read_exact(&mut byte).unwrap();
        cx.state.push("first".into());
        let second = first.clone();
        cx.reactor
            .add_reader(fd, move |cx| {
                let mut byte = [0u8; 1];
                second.borrow_mut().read_exact(&mut byte).unwrap();
                cx.state.push("second".into());
            })
            .unwrap();
    })
    .unwrap();
    tx.write_all(b"12").unwrap();
    iterate_until_cond(&r, "both reads", || log(&r).len() == 2);
    assert_eq!(log(&r), ["first", "second"]);
    r.remove_reader(fd);
}

#[test]
fn a_writer_is_called_while_writable_until_removed() {
    let r = reactor();
    let (mut rx, tx) = tx0mq_test_support::pipe().unwrap();
    let fd = tx.as_raw_fd();
    let mut tx = Some(tx);
    let mut sent = 0;
    r.add_writer(fd, move |cx| {
        if let Some(w) = tx.as_mut() {
            w.write_all(b"x").unwrap();
        }
        sent += 1;
        if sent == 3 {
            cx.reactor.remove_writer(fd);
            tx = None; // closes the pipe after removal
            cx.state.push("done".into());
        }
    })
    .unwrap();
    assert_eq!(r.get_writers(), [fd]);
    iterate_until_cond(&r, "three writes", || !log(&r).is_empty());
    let mut got = Vec::new();
    rx.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"xxx");
    assert!(r.get_writers().is_empty());
}

#[test]
fn reader_and_writer_on_one_fd_are_independent() {
    let r = reactor();
    let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let fd = a.as_raw_fd();
    let reader_side = Rc::new(a);
    let ra = reader_side.clone();
    r.add_reader(fd, move |cx| {
        let mut buf = [0u8; 8];
        let n = (&*ra).read(&mut buf).unwrap();
        cx.state.push(format!("read {n}"));
        cx.reactor.remove_reader(fd);
    })
    .unwrap();
    let wa = reader_side.clone();
    r.add_writer(fd, move |cx| {
        (&*wa).write_all(b"ping").unwrap();
        cx.state.push("wrote".into());
        cx.reactor.remove_writer(fd);
    })
    .unwrap();
    b.write_all(b"pong!").unwrap();
    iterate_until_cond(&r, "read and write", || log(&r).len() == 2);
    let mut got = [0u8; 4];
    b.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"ping");
    let mut l = log(&r);
    l.sort();
    assert_eq!(l, ["read 5", "wrote"]);
}

#[test]
fn remove_all_removes_readers_and_writers_and_returns_them() {
    let r = reactor();
    let (rx, tx) = tx0mq_test_support::pipe().unwrap();
    r.add_reader(rx.as_raw_fd(), |_| ()).unwrap();
    r.add_writer(tx.as_raw_fd(), |_| ()).unwrap();
    let mut removed = r.remove_all();
    removed.sort();
    let mut expected = vec![rx.as_raw_fd(), tx.as_raw_fd()];
    expected.sort();
    assert_eq!(removed, expected);
    assert!(r.get_readers().is_empty() && r.get_writers().is_empty());
    assert!(!r.remove_reader(rx.as_raw_fd()));
}

#[test]
fn a_regular_file_is_refused_with_an_error_naming_the_fd() {
    let r = reactor();
    let file = std::fs::File::open("/proc/self/status").unwrap();
    let err = r.add_reader(file.as_raw_fd(), |_| ()).unwrap_err();
    assert!(matches!(err, Error::Io { .. }));
    assert!(
        err.to_string()
            .contains(&format!("fd {}", file.as_raw_fd())),
        "{err}"
    );
    assert!(
        r.get_readers().is_empty(),
        "a refused fd stays half-registered"
    );
}

#[test]
fn a_source_is_called_on_wake_and_can_rewake_itself() {
    let r = reactor();
    let (rx, _tx) = tx0mq_test_support::pipe().unwrap();
    let mut calls = 0;
    let id = r
        .add_source(rx.as_raw_fd(), move |cx, me| {
            calls += 1;
            cx.state.push(format!("call {calls}"));
            if calls < 3 {
                cx.reactor.wake_source(me);
            }
        })
        .unwrap();
    r.wake_source(id);
    r.wake_source(id); // a second wake before the pass is the same wake
    iterate_until_cond(&r, "three calls", || log(&r).len() == 3);
    for _ in 0..3 {
        r.iterate(Duration::ZERO).unwrap();
    }
    assert_eq!(log(&r), ["call 1", "call 2", "call 3"]);
    assert!(r.remove_source(id));
    assert!(!r.remove_source(id));
    r.wake_source(id); // stale: does nothing
    r.iterate(Duration::ZERO).unwrap();
    assert_eq!(log(&r).len(), 3);
}

#[test]
fn a_source_fd_cannot_also_get_a_reader() {
    let r = reactor();
    let (rx, _tx) = tx0mq_test_support::pipe().unwrap();
    let id = r.add_source(rx.as_raw_fd(), |_, _| ()).unwrap();
    assert!(matches!(
        r.add_reader(rx.as_raw_fd(), |_| ()),
        Err(Error::FdInUse(_))
    ));
    assert!(matches!(
        r.add_source(rx.as_raw_fd(), |_, _| ()),
        Err(Error::FdInUse(_))
    ));
    r.remove_source(id);
}

#[test]
fn a_source_that_wakes_itself_keeps_the_poll_from_blocking() {
    // With nothing else to do, iterate(10 s) must return at once when the
    // source put itself back on the ready list.
    let r = reactor();
    let (rx, _tx) = tx0mq_test_support::pipe().unwrap();
    let mut calls = 0;
    let id = r
        .add_source(rx.as_raw_fd(), move |cx, me| {
            calls += 1;
            cx.state.push(format!("call {calls}"));
            if calls == 1 {
                cx.reactor.wake_source(me);
            }
        })
        .unwrap();
    r.wake_source(id);
    let started = Instant::now();
    r.iterate(Duration::from_secs(10)).unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a woken source let the poll block for {:?}",
        started.elapsed()
    );
    assert_eq!(log(&r), ["call 1"]);
    r.iterate(Duration::ZERO).unwrap();
    assert_eq!(log(&r), ["call 1", "call 2"]);
    r.remove_source(id);
}

#[test]
fn an_fd_closed_and_reused_behind_the_reactors_back_can_be_watched_again() {
    // The reader's fd is closed without remove_reader (closing drops it
    // from the poll set) and its number goes to a new socket: the poller no
    // longer knows the fd (ENOENT), and adding a writer registers it afresh.
    // Other tests open fds at the same time, so the number may go
    // elsewhere: try a few times.
    let r = reactor();
    for _ in 0..20 {
        let (rx, _tx) = tx0mq_test_support::pipe().unwrap();
        let fd = rx.as_raw_fd();
        r.add_reader(fd, |_| ()).unwrap();
        drop(rx);
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        if a.as_raw_fd() != fd && b.as_raw_fd() != fd {
            r.remove_reader(fd);
            continue;
        }
        r.add_writer(fd, move |cx| {
            cx.state.push("writable".into());
            cx.reactor.remove_writer(fd);
        })
        .expect("a reused fd number is registered afresh");
        iterate_until_cond(&r, "the writer on the reused fd", || !log(&r).is_empty());
        assert_eq!(log(&r), ["writable"]);
        assert!(r.remove_reader(fd));
        drop((a, b));
        return;
    }
    panic!("the closed fd's number never went to the new socket");
}

/// Calls into the reactor's fd table when dropped.
struct ReadsTheTableOnDrop(Reactor<Vec<String>>);

impl Drop for ReadsTheTableOnDrop {
    fn drop(&mut self) {
        let _ = self.0.get_readers();
    }
}

#[test]
fn a_refused_reader_is_dropped_outside_the_tables_borrow() {
    // Its captures' destructors may call back into the reactor.
    let r = reactor();
    let (rx, _tx) = tx0mq_test_support::pipe().unwrap();
    let id = r.add_source(rx.as_raw_fd(), |_, _| ()).unwrap();
    let guard = ReadsTheTableOnDrop(r.clone());
    let refused = r.add_reader(rx.as_raw_fd(), move |_| {
        let _ = &guard;
    });
    assert!(matches!(refused, Err(Error::FdInUse(_))), "{refused:?}");
    assert!(r.remove_source(id));

    // A regular file: the kernel refuses to poll it.
    let file = std::fs::File::open(std::env::current_exe().unwrap()).unwrap();
    let guard = ReadsTheTableOnDrop(r.clone());
    let refused = r.add_reader(file.as_raw_fd(), move |_| {
        let _ = &guard;
    });
    assert!(matches!(refused, Err(Error::Io { .. })), "{refused:?}");
    assert!(r.get_readers().is_empty());
}
