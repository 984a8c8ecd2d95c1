//! The reentrancy matrix: from inside every kind of callback, every reactor
//! operation works, with no panic, deadlock or double borrow.
//!
//! Each cell is one test: `<context>::<action>`. A context runs the action
//! once from inside its kind of callback; the action records its effect in a
//! shared log, and the test checks the effect after the reactor stopped.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

use tx0mq_reactor::{Deferred, DelayedCall, Error, LoopingCall, Phase, Reactor, SystemEvent};
use tx0mq_test_support::reactor::{reactor, Timebomb};

/// The action waiting for its context; thread calls (which must be `Send`)
/// find it here.
#[derive(Default)]
struct Pending(Option<ActionFn>);

type ActionFn = Box<dyn FnOnce(&Reactor<Pending>)>;

impl std::ops::Deref for Pending {
    type Target = Option<ActionFn>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for Pending {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}
type Log = Rc<RefCell<Vec<&'static str>>>;

#[derive(Clone, Copy)]
enum Context {
    Timer,
    Reader,
    Writer,
    ThreadCall,
    Trigger,
    DeferredCallback,
    Looping,
    Source,
}

#[derive(Clone, Copy)]
enum Action {
    Schedule,
    CancelAnother,
    ResetAnother,
    AddReader,
    RemoveReader,
    Stop,
    FireDeferred,
    QueueThreadCall,
    NestedRunIsRefused,
}

/// Runs `action` from inside `context`, then returns the log.
fn cell(context: Context, action: Action) -> Vec<&'static str> {
    let r: Reactor<Pending> = reactor(Pending::default());
    let log: Log = Rc::default();
    let keep: Rc<RefCell<Vec<Box<dyn std::any::Any>>>> = Rc::default();

    // Set up what the action acts on, and build it.
    let run: ActionFn = {
        let log = log.clone();
        match action {
            Action::Schedule => Box::new(move |r| {
                r.call_later(Duration::ZERO, move |_| log.borrow_mut().push("effect"));
            }),
            Action::CancelAnother => {
                let bad = log.clone();
                let victim = r.call_later(Duration::from_millis(30), move |_| {
                    bad.borrow_mut().push("cancelled call ran")
                });
                Box::new(move |_| {
                    victim.cancel().unwrap();
                    log.borrow_mut().push("effect");
                })
            }
            Action::ResetAnother => {
                let late = r.call_later(Duration::from_secs(3600), move |_| {
                    log.borrow_mut().push("effect")
                });
                Box::new(move |_| late.reset(Duration::ZERO).unwrap())
            }
            Action::AddReader => {
                let (mut rx, mut tx) = tx0mq_test_support::pipe().unwrap();
                tx.write_all(b"!").unwrap();
                keep.borrow_mut().push(Box::new(tx));
                Box::new(move |r| {
                    let fd = rx.as_raw_fd();
                    r.add_reader(fd, move |cx| {
                        let mut b = [0u8; 1];
                        rx.read_exact(&mut b).unwrap();
                        cx.reactor.remove_reader(fd);
                        log.borrow_mut().push("effect");
                    })
                    .unwrap();
                })
            }
            Action::RemoveReader => {
                let (rx, tx) = tx0mq_test_support::pipe().unwrap();
                let fd = rx.as_raw_fd();
                let bad = log.clone();
                r.add_reader(fd, move |_| bad.borrow_mut().push("removed reader ran"))
                    .unwrap();
                keep.borrow_mut().push(Box::new(rx));
                let tx = RefCell::new(tx);
                Box::new(move |r| {
                    assert!(r.remove_reader(fd));
                    tx.borrow_mut().write_all(b"!").unwrap();
                    // Give the poller passes to (wrongly) report it.
                    r.call_later(Duration::from_millis(20), move |_| {
                        log.borrow_mut().push("effect")
                    });
                })
            }
            Action::Stop => Box::new(move |r| {
                r.stop().unwrap();
                log.borrow_mut().push("effect");
            }),
            Action::FireDeferred => {
                let d: Deferred<u32> = Deferred::new();
                d.add_callback(move |v| {
                    if v == 7 {
                        log.borrow_mut().push("effect");
                    }
                    Ok(v)
                });
                Box::new(move |_| d.callback(7).unwrap())
            }
            Action::QueueThreadCall => Box::new(move |r| {
                // Thread calls must be Send, so this one leaves its mark in the state.
                r.thread_handle()
                    .call_from_thread(|cx| cx.state.0 = Some(Box::new(|_| ())))
                    .unwrap();
                r.call_later(Duration::from_millis(20), move |cx| {
                    if cx.state.is_some() {
                        log.borrow_mut().push("effect");
                    }
                });
            }),
            Action::NestedRunIsRefused => Box::new(move |r| {
                let run = r.run();
                let iterate = r.iterate(Duration::ZERO);
                if matches!(run, Err(Error::AlreadyRunning))
                    && matches!(iterate, Err(Error::AlreadyRunning))
                {
                    log.borrow_mut().push("effect");
                }
            }),
        }
    };
    let run = Rc::new(RefCell::new(Some(run)));
    let fire = move |r: &Reactor<Pending>| {
        if let Some(f) = run.borrow_mut().take() {
            f(r)
        }
    };

    // Arrange for the action to run inside the context.
    match context {
        Context::Timer => {
            r.call_later(Duration::from_millis(1), move |cx| fire(cx.reactor));
        }
        Context::Reader => {
            let (mut rx, mut tx) = tx0mq_test_support::pipe().unwrap();
            tx.write_all(b"x").unwrap();
            keep.borrow_mut().push(Box::new(tx));
            let fd = rx.as_raw_fd();
            r.add_reader(fd, move |cx| {
                let mut b = [0u8; 1];
                rx.read_exact(&mut b).unwrap();
                cx.reactor.remove_reader(fd);
                fire(cx.reactor);
            })
            .unwrap();
        }
        Context::Writer => {
            let (rx, tx) = tx0mq_test_support::pipe().unwrap();
            keep.borrow_mut().push(Box::new(rx));
            let fd = tx.as_raw_fd();
            keep.borrow_mut().push(Box::new(tx));
            r.add_writer(fd, move |cx| {
                cx.reactor.remove_writer(fd);
                fire(cx.reactor);
            })
            .unwrap();
        }
        Context::ThreadCall => {
            r.access_state(|pending| pending.0 = Some(Box::new(fire)))
                .unwrap();
            let handle = r.thread_handle();
            std::thread::spawn(move || {
                handle
                    .call_from_thread(|cx| {
                        if let Some(f) = cx.state.take() {
                            f(cx.reactor)
                        }
                    })
                    .unwrap()
            })
            .join()
            .unwrap();
        }
        Context::Trigger => {
            r.add_system_event_trigger(Phase::During, SystemEvent::Startup, move |cx| {
                fire(cx.reactor)
            });
        }
        Context::DeferredCallback => {
            let d: Deferred<()> = Deferred::new();
            let reactor = r.clone();
            d.add_callback(move |()| {
                fire(&reactor);
                Ok(())
            });
            r.call_later(Duration::from_millis(1), move |_| d.callback(()).unwrap());
        }
        Context::Looping => {
            let lc = LoopingCall::new(&r, move |cx| fire(cx.reactor));
            lc.start(Duration::from_millis(5), false).unwrap();
            keep.borrow_mut().push(Box::new(lc));
        }
        Context::Source => {
            let (rx, _) = tx0mq_test_support::pipe().unwrap();
            let id = r
                .add_source(rx.as_raw_fd(), move |cx, me| {
                    cx.reactor.remove_source(me);
                    fire(cx.reactor);
                })
                .unwrap();
            keep.borrow_mut().push(Box::new(rx));
            r.wake_source(id);
        }
    }

    // Stop once the effect shows (or the action stopped the reactor itself),
    // and give up after 5 s.
    let watch = log.clone();
    let poll = LoopingCall::new(&r, move |cx| {
        if watch.borrow().contains(&"effect") && cx.reactor.running() {
            let _ = cx.reactor.call_later(Duration::from_millis(30), |cx| {
                let _ = cx.reactor.stop();
            });
        }
    });
    poll.start(Duration::from_millis(2), false).unwrap();
    let timeout = log.clone();
    let _watchdog: DelayedCall = r.call_later(Duration::from_secs(5), move |cx| {
        timeout.borrow_mut().push("WATCHDOG");
        let _ = cx.reactor.stop();
    });
    r.run().unwrap();
    drop(keep);
    let out = log.borrow().clone();
    out
}

fn check(context: Context, action: Action) {
    let log = cell(context, action);
    assert!(log.contains(&"effect"), "the action had no effect: {log:?}");
    assert!(
        !log.contains(&"WATCHDOG"),
        "the reactor had to be stopped by the watchdog: {log:?}"
    );
    assert_eq!(
        log.iter().filter(|e| **e != "effect").count(),
        0,
        "unexpected: {log:?}"
    );
}

macro_rules! matrix {
    ($($module:ident => $context:expr;)*) => {$(
        mod $module {
            use super::*;
            #[test] fn schedules_a_call() { check($context, Action::Schedule) }
            #[test] fn cancels_another_call() { check($context, Action::CancelAnother) }
            #[test] fn resets_another_call() { check($context, Action::ResetAnother) }
            #[test] fn adds_a_reader() { check($context, Action::AddReader) }
            #[test] fn removes_a_reader() { check($context, Action::RemoveReader) }
            #[test] fn stops_the_reactor() { check($context, Action::Stop) }
            #[test] fn fires_a_deferred() { check($context, Action::FireDeferred) }
            #[test] fn queues_a_thread_call() { check($context, Action::QueueThreadCall) }
            #[test] fn is_refused_a_nested_run() { check($context, Action::NestedRunIsRefused) }
        }
    )*};
}

matrix! {
    from_a_timer => Context::Timer;
    from_a_reader => Context::Reader;
    from_a_writer => Context::Writer;
    from_a_thread_call => Context::ThreadCall;
    from_a_startup_trigger => Context::Trigger;
    from_a_deferred_callback => Context::DeferredCallback;
    from_a_looping_call => Context::Looping;
    from_a_source => Context::Source;
}

/// While `with_ctx` or `access_state` lends the state out, the loop cannot
/// run: it would have to skip every callback (they need the state), and a
/// skipped one-shot call would be lost. So run, iterate and advance refuse.
#[test]
fn the_loop_refuses_to_run_while_the_state_is_lent_out() {
    let r = tx0mq_test_support::reactor::fake_clock_reactor(Vec::<&'static str>::new());
    r.call_later(Duration::ZERO, |cx| cx.state.push("timer"));
    let refused = r
        .with_ctx(|cx| {
            [
                cx.reactor.iterate(Duration::ZERO),
                cx.reactor.advance(Duration::ZERO),
            ]
        })
        .expect("with_ctx outside the loop");
    for outcome in &refused {
        assert!(matches!(outcome, Err(Error::AlreadyRunning)), "{refused:?}");
    }
    let refused = r
        .access_state(|_| r.iterate(Duration::ZERO))
        .expect("access_state outside the loop");
    assert!(matches!(refused, Err(Error::AlreadyRunning)), "{refused:?}");
    // A run that is not refused could never stop (its stopping call would
    // be skipped too): the process is aborted if this takes too long.
    let bomb = Timebomb::arm("a run inside with_ctx", Duration::from_secs(20));
    let refused = r
        .with_ctx(|cx| cx.reactor.run())
        .expect("with_ctx outside the loop");
    drop(bomb);
    assert!(matches!(refused, Err(Error::AlreadyRunning)), "{refused:?}");
    // The timer was not lost: it runs on the next pass.
    r.iterate(Duration::ZERO).expect("iterate");
    assert_eq!(r.access_state(|s| s.clone()).expect("state"), ["timer"]);
}
