//! Dropping the reactor: nothing it held outlives it. Every callback it
//! owned is dropped with it, even one that a handle still points to.

use std::cell::Cell;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tx0mq_reactor::{Deferred, Error, LoopingCall, Phase, SystemEvent};

/// Sets its flag when dropped.
struct DropFlag(Rc<Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// Sets its flag when dropped, from any thread.
struct SendDropFlag(Arc<AtomicBool>);

impl Drop for SendDropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Callbacks of every kind, each holding a guard; `dropped` names those
/// whose guard was dropped.
struct Guards {
    flags: Vec<(&'static str, Rc<Cell<bool>>)>,
    thread_call: Arc<AtomicBool>,
}

impl Guards {
    fn new() -> Self {
        Guards {
            flags: Vec::new(),
            thread_call: Arc::new(AtomicBool::new(false)),
        }
    }

    fn guard(&mut self, name: &'static str) -> DropFlag {
        let flag = Rc::new(Cell::new(false));
        self.flags.push((name, flag.clone()));
        DropFlag(flag)
    }

    /// The callbacks whose guard is still alive.
    fn alive(&self) -> Vec<&'static str> {
        let mut alive: Vec<&'static str> = self
            .flags
            .iter()
            .filter(|(_, dropped)| !dropped.get())
            .map(|(name, _)| *name)
            .collect();
        if !self.thread_call.load(Ordering::SeqCst) {
            alive.push("thread call");
        }
        alive
    }
}

/// A socket for the reactor to watch, and its peer.
fn pair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().expect("a socket pair");
    a.set_nonblocking(true).expect("non-blocking");
    (a, b)
}

#[test]
fn dropping_the_reactor_drops_every_callback_it_held() {
    let r = tx0mq_test_support::reactor::reactor(());
    let mut guards = Guards::new();

    // A timed call whose handle outlives the reactor.
    let g = guards.guard("call_later timer");
    let timer = r.call_later(Duration::from_secs(60), move |_| drop(g));

    // A running LoopingCall, its own handle dropped.
    let g = guards.guard("running LoopingCall");
    let looping = LoopingCall::new(&r, move |_| {
        let _ = &g;
    });
    looping
        .start(Duration::from_secs(60), false)
        .expect("start the loop");
    drop(looping);

    let (source, _source_peer) = pair();
    let g = guards.guard("source");
    r.add_source(source.as_raw_fd(), move |_, _| {
        let _ = &g;
    })
    .expect("add a source");

    let (reader, _reader_peer) = pair();
    let g = guards.guard("reader");
    r.add_reader(reader.as_raw_fd(), move |_| {
        let _ = &g;
    })
    .expect("add a reader");

    let (writer, _writer_peer) = pair();
    let g = guards.guard("writer");
    r.add_writer(writer.as_raw_fd(), move |_| {
        let _ = &g;
    })
    .expect("add a writer");

    let g = guards.guard("trigger");
    r.add_system_event_trigger(Phase::During, SystemEvent::Shutdown, move |_| {
        let _ = &g;
    });

    let g = guards.guard("call_when_running");
    r.call_when_running(move |_| drop(g));

    // A task waiting on a Deferred that never fires.
    let g = guards.guard("task");
    let never: Deferred<()> = Deferred::new();
    let task = r.spawn(async move {
        let _g = g;
        never.await
    });
    drop(task);

    let g = SendDropFlag(guards.thread_call.clone());
    r.thread_handle()
        .call_from_thread(move |_| drop(g))
        .expect("queue a thread call");

    drop(r);
    let alive = guards.alive();
    assert!(alive.is_empty(), "outlived the reactor: {alive:?}");
    // The timer's handle is inert.
    assert!(!timer.active());
    assert!(matches!(timer.cancel(), Err(Error::ReactorGone)));
}
