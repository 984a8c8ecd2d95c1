//! async/await on the reactor: `Deferred` as a `Future`, `Reactor::spawn` /
//! `ensure_deferred` / `Deferred::from_future`, `sleep`, timeouts,
//! `gather_futures`, cancellation, wake-ups from other threads, panics and
//! errors. One behaviour per test, named for it.
//!
//! Timed tests use the fake clock; the few real-clock tests have a watchdog
//! timer that stops the reactor and fails the test instead of hanging.
//!
//! `async move { d.await }` is spelled out on purpose (a task that awaits a
//! Deferred), although spawning `d` itself would do the same.
#![allow(clippy::redundant_async_block)]

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tx0mq_reactor::deferred::{
    defer_later, fail, gather_results, sleep, succeed, Deferred, Failure, FirstError,
};
use tx0mq_reactor::{ensure_deferred, gather_futures, Error, Reactor};

// ---------------------------------------------------------------- helpers

use tx0mq_test_support::deferred::{failure, is_error, outcome, success};
use tx0mq_test_support::log as capture;
use tx0mq_test_support::reactor::fake_reactor;
use tx0mq_test_support::reactor::{fake_clock_reactor, reactor as real_reactor, watchdog};

/// Sets a flag when dropped: shows that a future was dropped.
struct DropFlag(Rc<Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

fn drop_flag() -> (DropFlag, Rc<Cell<bool>>) {
    let flag = Rc::new(Cell::new(false));
    (DropFlag(Rc::clone(&flag)), flag)
}

/// Returns `Pending` once (waking itself), then `Ready`: `yield_now`.
fn yield_now() -> impl Future<Output = ()> {
    let mut yielded = false;
    std::future::poll_fn(move |cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
}

// ------------------------------------------------- awaiting a Deferred

/// Awaiting a Deferred that already has its result completes in spawn's
/// first poll: the returned Deferred has fired when `spawn` returns.
#[test]
fn awaiting_a_fired_deferred_completes_inside_spawn() {
    let r = fake_reactor();
    let d = r.spawn(async {
        let n = succeed(20).await?;
        Ok::<_, Failure>(n + 1)
    });
    assert!(d.called());
    assert_eq!(success(&d), 21);
    assert_eq!(r.pending_tasks(), 0);
}

/// A Deferred fired later wakes the task awaiting it, which resumes with
/// the value on the reactor's next pass.
#[test]
fn a_deferred_fired_later_wakes_its_awaiter() {
    let r = fake_reactor();
    let source: Deferred<&str> = Deferred::new();
    let awaited = source.clone();
    let d = r.spawn(async move { awaited.await.map(|s| s.len()) });
    assert!(!d.called());
    assert_eq!(r.pending_tasks(), 1);
    source.callback("four").unwrap();
    assert!(!d.called(), "firing wakes the task; it does not poll it");
    r.iterate(Duration::ZERO).unwrap();
    assert_eq!(success(&d), 4);
    assert_eq!(r.pending_tasks(), 0);
}

/// A failure comes out of `.await` as `Err`, and `?` carries it to the
/// spawned future's Deferred, unchanged.
#[test]
fn a_failure_comes_out_of_await_and_question_mark_passes_it_on() {
    let r = fake_reactor();
    let cause = Failure::msg("no route");
    let d = r.spawn({
        let cause = cause.clone();
        async move {
            let v: u32 = fail::<u32>(cause).await?;
            Ok::<_, Failure>(v)
        }
    });
    let f = failure(&d);
    assert!(f.ptr_eq(&cause));
}

/// Awaiting consumes the result at that point of the chain, as `then` does:
/// steps added before the await run first and shape what it gets; steps
/// added after it see the consumed failure.
#[test]
fn awaiting_consumes_the_result_like_then() {
    let r = fake_reactor();
    let source: Deferred<u32> = Deferred::new();
    source.add_callback(|n| Ok(n * 10));
    let awaited = source.clone();
    let d = r.spawn(async move { awaited.await });
    source.callback(4).unwrap();
    r.iterate(Duration::ZERO).unwrap();
    assert_eq!(success(&d), 40);
    let later = outcome(&source);
    let late = later.borrow_mut().take().expect("runs at once");
    let f = late.expect_err("the result moved into the awaiting task");
    assert!(f.to_string().contains("already moved"), "{f}");
}

/// Each handle is its own awaiter: of two tasks awaiting clones of one
/// Deferred, the first in chain order gets the value, the other the
/// consumed failure (like two `then`s), and neither hangs.
#[test]
fn two_awaiters_of_one_deferred_first_gets_it_second_gets_consumed() {
    let r = fake_reactor();
    let source: Deferred<u32> = Deferred::new();
    let (a, b) = (source.clone(), source.clone());
    let first = r.spawn(async move { a.await });
    let second = r.spawn(async move { b.await });
    source.callback(7).unwrap();
    r.iterate(Duration::ZERO).unwrap();
    assert_eq!(success(&first), 7);
    assert!(failure(&second).to_string().contains("already moved"));
}

/// A Deferred whose chain is paused on another Deferred completes the await
/// only when that one fires.
#[test]
fn awaiting_a_paused_deferred_waits_for_the_inner_one() {
    let r = fake_reactor();
    let inner: Deferred<u32> = Deferred::new();
    let wait_for = inner.clone();
    let outer = succeed(1u32);
    outer.add_callback(move |_| wait_for);
    let d = r.spawn(async move { outer.await });
    assert!(!d.called());
    inner.callback(9).unwrap();
    r.iterate(Duration::ZERO).unwrap();
    assert_eq!(success(&d), 9);
}

/// Awaiting the same handle again after it completed (through `&mut`)
/// yields the consumed failure instead of hanging or panicking.
#[test]
fn awaiting_a_handle_again_after_completion_gets_consumed() {
    let r = fake_reactor();
    let d = r.spawn(async {
        let mut source = succeed(3u8);
        let first = (&mut source).await?;
        let again = (&mut source).await;
        Ok::<_, Failure>((first, again.is_err()))
    });
    assert_eq!(success(&d), (3, true));
}

// ------------------------------------------------- spawn and friends

/// `ensure_deferred`, `Deferred::from_future` and `spawn` are the same
/// operation; a future returning `()` gives a `Deferred<()>`.
#[test]
fn ensure_deferred_from_future_and_unit_futures() {
    let r = fake_reactor();
    let a: Deferred<u8> = ensure_deferred(&r, async { Ok::<_, Failure>(1) });
    let b: Deferred<u8> = Deferred::from_future(&r, async { Ok::<_, Error>(2) });
    let ran = Rc::new(Cell::new(false));
    let flag = Rc::clone(&ran);
    let c: Deferred<()> = r.spawn(async move { flag.set(true) });
    assert_eq!(success(&a), 1);
    assert_eq!(success(&b), 2);
    success(&c);
    assert!(ran.get());
}

/// The code before the first pending await runs inside `spawn`, as
/// Twisted's `ensureDeferred` starts a coroutine; the rest runs later, from
/// the reactor.
#[test]
fn spawn_runs_the_future_up_to_its_first_pending_await() {
    let r = fake_reactor();
    let steps = Rc::new(RefCell::new(Vec::new()));
    let gate: Deferred<()> = Deferred::new();
    let (log, wait) = (Rc::clone(&steps), gate.clone());
    let _d = r.spawn(async move {
        log.borrow_mut().push("before");
        wait.await?;
        log.borrow_mut().push("after");
        Ok::<_, Failure>(())
    });
    assert_eq!(*steps.borrow(), ["before"]);
    gate.callback(()).unwrap();
    r.iterate(Duration::ZERO).unwrap();
    assert_eq!(*steps.borrow(), ["before", "after"]);
}

/// Spawns nested in first polls do not grow the stack without bound: deep
/// recursive spawning completes.
#[test]
fn recursive_spawning_does_not_overflow_the_stack() {
    fn countdown(r: Reactor, n: u32, total: Rc<Cell<u32>>) {
        let again = r.clone();
        let _task = r.spawn(async move {
            total.set(total.get() + 1);
            if n > 0 {
                countdown(again, n - 1, total);
            }
        });
    }
    let r = fake_reactor();
    let total = Rc::new(Cell::new(0));
    countdown(r.clone(), 20_000, Rc::clone(&total));
    for _ in 0..100_000 {
        if total.get() == 20_001 {
            break;
        }
        r.iterate(Duration::ZERO).unwrap();
    }
    assert_eq!(total.get(), 20_001);
    assert_eq!(r.pending_tasks(), 0);
}

/// Tasks are polled outside every reactor callback, so the state is free:
/// a task reaches it with `access_state`.
#[test]
fn a_task_polled_by_the_reactor_can_reach_the_state() {
    let r = fake_clock_reactor(0u32);
    let handle = r.clone();
    let d = r.spawn(async move {
        sleep(&handle, Duration::from_secs(1)).await?;
        handle.access_state(|n| *n += 5)?;
        Ok::<_, Failure>(())
    });
    r.advance(Duration::from_secs(1)).unwrap();
    success(&d);
    assert_eq!(r.access_state(|n| *n).unwrap(), 5);
}

/// The reactor polls a woken task in the same pass when a timer woke it,
/// and a task woken by another task during the tasks step on the next pass;
/// a woken task makes that next poll non-blocking.
#[test]
fn pass_order_and_a_woken_task_makes_the_poll_non_blocking() {
    let r = real_reactor(());
    let (da, db): (Deferred<()>, Deferred<()>) = (Deferred::new(), Deferred::new());
    let (wait_a, fire_b, wait_b) = (da.clone(), db.clone(), db.clone());
    let a = r.spawn(async move {
        wait_a.await?;
        fire_b.callback(())?;
        Ok::<_, Failure>(())
    });
    let b = r.spawn(async move { wait_b.await });
    r.call_later(Duration::ZERO, move |_| da.callback(()));
    let started = Instant::now();
    r.iterate(Duration::from_secs(5)).unwrap(); // the timer fires, A runs, B is woken
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the poll blocked although a task was ready"
    );
    assert!(a.called(), "a task woken by a timer runs in that pass");
    assert!(!b.called(), "a task woken during the tasks step waits");
    r.iterate(Duration::ZERO).unwrap();
    assert!(b.called());
}

/// 100,000 tasks spawned at once, all pending together on their own timers,
/// all complete (real clock).
#[test]
fn a_hundred_thousand_concurrent_tasks_complete() {
    const TASKS: u32 = 100_000;
    let r = real_reactor(0u32);
    let bomb = watchdog(&r, Duration::from_secs(60));
    let started = Instant::now();
    for i in 0..TASKS {
        let handle = r.clone();
        let _task = r.spawn(async move {
            sleep(&handle, Duration::from_millis(u64::from(i % 50))).await?;
            let done = handle.access_state(|n| {
                *n += 1;
                *n
            })?;
            if done == TASKS {
                handle.stop()?;
            }
            Ok::<_, Failure>(())
        });
    }
    assert_eq!(r.pending_tasks(), TASKS as usize, "all pending at once");
    r.run().unwrap();
    assert!(!bomb.fired(), "watchdog fired");
    eprintln!("{TASKS} tasks in {:?}", started.elapsed());
    assert_eq!(r.access_state(|n| *n).unwrap(), TASKS);
    assert_eq!(r.pending_tasks(), 0);
}

/// 100,000 tasks awaiting their own Deferreds are all woken by one
/// callback that fires every Deferred; they finish in order of waking.
#[test]
fn a_hundred_thousand_awaiters_are_woken_by_their_deferreds() {
    const TASKS: usize = 100_000;
    let r = fake_reactor();
    let seen = Rc::new(RefCell::new(Vec::with_capacity(TASKS)));
    let sources: Vec<Deferred<usize>> = (0..TASKS).map(|_| Deferred::new()).collect();
    for source in &sources {
        let (source, seen) = (source.clone(), Rc::clone(&seen));
        let _task = r.spawn(async move {
            let n = source.await?;
            seen.borrow_mut().push(n);
            Ok::<_, Failure>(())
        });
    }
    assert_eq!(r.pending_tasks(), TASKS);
    for (i, source) in sources.iter().enumerate() {
        source.callback(i).unwrap();
    }
    r.iterate(Duration::ZERO).unwrap();
    assert_eq!(r.pending_tasks(), 0);
    assert!(seen.borrow().iter().copied().eq(0..TASKS));
}

// ------------------------------------------------- helpers: sleep, timeouts, gather

/// `sleep` fires after its duration and not before.
#[test]
fn sleep_fires_after_its_duration() {
    let r = fake_reactor();
    let handle = r.clone();
    let d = r.spawn(async move {
        sleep(&handle, Duration::from_secs(3)).await?;
        Ok::<_, Failure>(handle.seconds())
    });
    r.advance(Duration::from_secs(2)).unwrap();
    assert!(!d.called());
    r.advance(Duration::from_secs(1)).unwrap();
    assert_eq!(success(&d), Duration::from_secs(3));
}

/// `defer_later` can be awaited: the value comes out of `.await`.
#[test]
fn defer_later_is_awaitable() {
    let r = fake_reactor();
    let handle = r.clone();
    let d = r.spawn(async move {
        let word = defer_later(&handle, Duration::from_secs(1), || Ok("later")).await?;
        Ok::<_, Failure>(word)
    });
    r.advance(Duration::from_secs(1)).unwrap();
    assert_eq!(success(&d), "later");
}

/// `add_timeout` works on an awaited Deferred: no result in time gives
/// `TimedOut` out of `.await`, and the Deferred's producer is cancelled.
#[test]
fn add_timeout_on_an_awaited_deferred_times_out() {
    let r = fake_reactor();
    let cancelled = Rc::new(Cell::new(false));
    let flag = Rc::clone(&cancelled);
    let reply: Deferred<u32> = Deferred::with_canceller(move |_| flag.set(true));
    reply.add_timeout(&r, Duration::from_secs(5));
    let awaited = reply.clone();
    let d = r.spawn(async move { awaited.await });
    r.advance(Duration::from_secs(5)).unwrap();
    assert!(cancelled.get());
    assert!(is_error(&failure(&d), |e| matches!(e, Error::TimedOut(_))));
}

/// `with_timeout` in an `.await` expression: a result in time comes
/// through, and the timer is cancelled (nothing fires later).
#[test]
fn with_timeout_passes_a_result_that_arrives_in_time() {
    let r = fake_reactor();
    let handle = r.clone();
    let d = r.spawn(async move {
        let quick = defer_later(&handle, Duration::from_secs(1), || Ok(5));
        quick.with_timeout(&handle, Duration::from_secs(5)).await
    });
    r.advance(Duration::from_secs(1)).unwrap();
    assert_eq!(success(&d), 5);
    r.advance(Duration::from_secs(10)).unwrap();
}

/// A timeout on a spawned future (`spawn(f).with_timeout(..)`) drops the
/// future when the time is up.
#[test]
fn a_timeout_on_a_spawned_future_drops_it() {
    let r = fake_reactor();
    let (guard, dropped) = drop_flag();
    let handle = r.clone();
    let slow = r.spawn(async move {
        let _guard = guard;
        sleep(&handle, Duration::from_secs(60)).await?;
        Ok::<_, Failure>("finished")
    });
    let handle = r.clone();
    let d = r.spawn(async move { slow.with_timeout(&handle, Duration::from_secs(2)).await });
    r.advance(Duration::from_secs(2)).unwrap();
    assert!(dropped.get(), "the slow future was dropped");
    assert!(is_error(&failure(&d), |e| matches!(e, Error::TimedOut(_))));
    assert_eq!(r.pending_tasks(), 0);
}

/// `gather_results` is awaitable; `gather_futures` runs futures and gives
/// their values in input order, whatever order they finish in.
#[test]
fn gather_results_and_gather_futures_keep_input_order() {
    let r = fake_reactor();
    let handle = r.clone();
    let d = r.spawn(async move {
        let pair = gather_results(vec![succeed(1), succeed(2)]).await?;
        let delays = [3u64, 1, 2];
        let timed = gather_futures(
            &handle,
            delays.map(|secs| {
                let h = handle.clone();
                async move {
                    sleep(&h, Duration::from_secs(secs)).await?;
                    Ok::<_, Failure>(secs)
                }
            }),
        )
        .await?;
        Ok::<_, Failure>((pair, timed))
    });
    r.advance(Duration::from_secs(3)).unwrap();
    assert_eq!(success(&d), (vec![1, 2], vec![3, 1, 2]));
}

/// `gather_futures` fails with the first member's failure, as a
/// `FirstError` naming it.
#[test]
fn gather_futures_fails_with_the_first_failure() {
    let r = fake_reactor();
    let handle = r.clone();
    let all = gather_futures(
        &r,
        (0..3u64).map(move |i| {
            let h = handle.clone();
            async move {
                sleep(&h, Duration::from_secs(i)).await?;
                if i == 1 {
                    return Err(Failure::msg("member one failed"));
                }
                Ok(i)
            }
        }),
    );
    r.advance(Duration::from_secs(3)).unwrap();
    let f = failure(&all);
    let first = f.downcast_ref::<FirstError>().expect("a FirstError");
    assert_eq!(first.index, 1);
    assert_eq!(first.failure.to_string(), "member one failed");
}

/// Cancelling a gather of futures drops every unfinished future.
#[test]
fn cancelling_gather_futures_drops_the_futures() {
    let r = fake_reactor();
    let flags: Vec<Rc<Cell<bool>>> = (0..3).map(|_| Rc::new(Cell::new(false))).collect();
    let handle = r.clone();
    let all = gather_futures(
        &r,
        flags.iter().map(|flag| {
            let guard = DropFlag(Rc::clone(flag));
            let h = handle.clone();
            async move {
                let _guard = guard;
                sleep(&h, Duration::from_secs(10)).await
            }
        }),
    );
    all.cancel();
    assert!(flags.iter().all(|f| f.get()));
    assert_eq!(r.pending_tasks(), 0);
    let _ = failure(&all);
}

// ------------------------------------------------- cancellation

/// Cancelling the spawned future's Deferred while it awaits drops the
/// future, which cancels the Deferred it was awaiting (its canceller runs),
/// and fails with `Cancelled`.
#[test]
fn cancel_while_awaiting_drops_the_future_and_cancels_what_it_awaits() {
    let r = fake_reactor();
    let inner_cancelled = Rc::new(Cell::new(false));
    let flag = Rc::clone(&inner_cancelled);
    let inner: Deferred<u32> = Deferred::with_canceller(move |_| flag.set(true));
    let (guard, dropped) = drop_flag();
    let awaited = inner.clone();
    let d = r.spawn(async move {
        let _guard = guard;
        awaited.await
    });
    assert_eq!(r.pending_tasks(), 1);
    d.cancel();
    assert!(dropped.get(), "the future was dropped");
    assert!(inner_cancelled.get(), "the awaited Deferred was cancelled");
    assert!(is_error(&failure(&d), |e| matches!(e, Error::Cancelled)));
    assert!(inner.called());
    assert_eq!(r.pending_tasks(), 0);
}

/// Cancelling a task that sleeps cancels the sleep's timer: nothing fires
/// when the time comes.
#[test]
fn cancel_while_sleeping_cancels_the_timer() {
    let r = fake_reactor();
    let woke = Rc::new(Cell::new(false));
    let (flag, handle) = (Rc::clone(&woke), r.clone());
    let d = r.spawn(async move {
        let result = sleep(&handle, Duration::from_secs(5)).await;
        flag.set(true);
        result
    });
    d.cancel();
    r.advance(Duration::from_secs(10)).unwrap();
    assert!(!woke.get());
    assert!(failure(&d).is_cancelled());
}

/// A task may cancel its own Deferred while it runs: the future is dropped
/// once that poll returns, and nothing panics.
#[test]
fn a_task_cancelling_itself_is_dropped_after_its_poll() {
    let r = fake_reactor();
    let me: Rc<RefCell<Option<Deferred<()>>>> = Rc::default();
    let (guard, dropped) = drop_flag();
    let (slot, handle) = (Rc::clone(&me), r.clone());
    let d = r.spawn(async move {
        let _guard = guard;
        sleep(&handle, Duration::from_secs(1)).await?;
        let own = slot.borrow_mut().take();
        if let Some(own) = own {
            own.cancel();
        }
        sleep(&handle, Duration::from_secs(1)).await?;
        Ok::<_, Failure>(())
    });
    *me.borrow_mut() = Some(d.clone());
    r.advance(Duration::from_secs(1)).unwrap();
    assert!(dropped.get());
    assert!(failure(&d).is_cancelled());
    assert_eq!(r.pending_tasks(), 0);
}

/// Cancelling a task that already finished changes nothing.
#[test]
fn cancel_after_completion_is_a_no_op() {
    let r = fake_reactor();
    let d = r.spawn(async { Ok::<_, Failure>(1) });
    d.cancel();
    assert_eq!(success(&d), 1);
}

/// Dropping the reactor drops the futures of unfinished tasks.
#[test]
fn dropping_the_reactor_drops_pending_futures() {
    let r = fake_reactor();
    let (guard, dropped) = drop_flag();
    let never: Deferred<()> = Deferred::new();
    let d = r.spawn(async move {
        let _guard = guard;
        never.await
    });
    drop(r);
    assert!(dropped.get());
    drop(d);
}

// ------------------------------------------------- threads and wakers

/// A future awaits a Deferred that a thread fires through
/// `call_from_thread` (the Deferred lives in the reactor's state, since a
/// Deferred cannot cross threads).
#[test]
fn awaiting_a_deferred_fired_from_a_thread_via_call_from_thread() {
    let source: Deferred<u64> = Deferred::new();
    let r = real_reactor(Some(source.clone()));
    let bomb = watchdog(&r, Duration::from_secs(10));
    let handle = r.clone();
    let d = r.spawn(async move {
        let n = source.await?;
        handle.stop()?;
        Ok::<_, Failure>(n)
    });
    let thread = r.thread_handle();
    let worker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        thread.call_from_thread(|cx| match cx.state.take() {
            Some(d) => d.callback(42),
            None => Ok(()),
        })
    });
    r.run().unwrap();
    worker.join().unwrap().unwrap();
    assert!(!bomb.fired(), "watchdog fired");
    assert_eq!(success(&d), 42);
}

/// A one-shot channel whose receiver is a future and whose sender wakes it
/// from another thread.
struct Channel {
    value: Mutex<(Option<u32>, Option<Waker>)>,
}

struct Receive(Arc<Channel>);

impl Future for Receive {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        let mut guard = self.0.value.lock().unwrap();
        match guard.0.take() {
            Some(v) => Poll::Ready(v),
            None => {
                guard.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// A task's waker is `Send + Sync`: woken from another thread, it wakes a
/// reactor blocked in the kernel (no timer is due for seconds).
#[test]
fn a_waker_called_from_another_thread_wakes_a_blocked_reactor() {
    let r = real_reactor(());
    let bomb = watchdog(&r, Duration::from_secs(10));
    let channel = Arc::new(Channel {
        value: Mutex::new((None, None)),
    });
    let handle = r.clone();
    let rx = Receive(Arc::clone(&channel));
    let d = r.spawn(async move {
        let n = rx.await;
        handle.stop()?;
        Ok::<_, Failure>(n)
    });
    let worker = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        let waker = {
            let mut guard = channel.value.lock().unwrap();
            guard.0 = Some(7);
            guard.1.take()
        };
        waker.expect("the task registered its waker").wake();
    });
    let started = Instant::now();
    r.run().unwrap();
    worker.join().unwrap();
    assert!(
        !bomb.fired(),
        "watchdog fired: the wake never reached the reactor"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(success(&d), 7);
}

/// Many threads waking many tasks at once: every task completes.
#[test]
fn wakes_from_eight_threads_all_arrive() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 500;
    let r = real_reactor(0usize);
    let bomb = watchdog(&r, Duration::from_secs(20));
    let mut channels = Vec::new();
    for _ in 0..THREADS * PER_THREAD {
        let channel = Arc::new(Channel {
            value: Mutex::new((None, None)),
        });
        let (rx, handle) = (Receive(Arc::clone(&channel)), r.clone());
        let _task = r.spawn(async move {
            rx.await;
            let done = handle.access_state(|n| {
                *n += 1;
                *n
            })?;
            if done == THREADS * PER_THREAD {
                handle.stop()?;
            }
            Ok::<_, Failure>(())
        });
        channels.push(channel);
    }
    let workers: Vec<_> = channels
        .chunks(PER_THREAD)
        .map(|chunk| {
            let chunk: Vec<_> = chunk.to_vec();
            std::thread::spawn(move || {
                for channel in chunk {
                    let waker = {
                        let mut guard = channel.value.lock().unwrap();
                        guard.0 = Some(1);
                        guard.1.take()
                    };
                    if let Some(w) = waker {
                        w.wake();
                    }
                }
            })
        })
        .collect();
    r.run().unwrap();
    for w in workers {
        w.join().unwrap();
    }
    assert!(!bomb.fired(), "watchdog fired");
    assert_eq!(r.access_state(|n| *n).unwrap(), THREADS * PER_THREAD);
}

/// A Pending-forever future that counts its polls.
struct CountPolls(Rc<Cell<u32>>, Rc<RefCell<Option<Waker>>>);

impl Future for CountPolls {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0.set(self.0.get() + 1);
        *self.1.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// A stale waker (its task finished) never reaches a later task that reuses
/// the slot; waking it is harmless.
#[test]
fn a_stale_waker_does_not_poll_a_new_task_in_the_same_slot() {
    let r = fake_reactor();
    let (polls, waker) = (Rc::new(Cell::new(0)), Rc::new(RefCell::new(None)));
    let first = r.spawn(CountPolls(Rc::clone(&polls), Rc::clone(&waker)));
    let stale: Waker = waker.borrow_mut().take().expect("polled once");
    first.cancel();
    let _ = failure(&first);
    let new_polls = Rc::new(Cell::new(0));
    let _second = r.spawn(CountPolls(
        Rc::clone(&new_polls),
        Rc::new(RefCell::new(None)),
    ));
    assert_eq!(new_polls.get(), 1);
    stale.wake_by_ref();
    r.iterate(Duration::ZERO).unwrap();
    assert_eq!(new_polls.get(), 1, "the stale waker polled the new task");
    stale.wake();
}

/// A waker woken many times before the task is polled queues it once: the
/// task is polled once.
#[test]
fn repeated_wakes_poll_the_task_once() {
    let r = fake_reactor();
    let (polls, waker) = (Rc::new(Cell::new(0)), Rc::new(RefCell::new(None)));
    let _d = r.spawn(CountPolls(Rc::clone(&polls), Rc::clone(&waker)));
    let w: Waker = waker.borrow().clone().expect("polled once");
    for _ in 0..10 {
        w.wake_by_ref();
    }
    r.iterate(Duration::ZERO).unwrap();
    assert_eq!(polls.get(), 2);
    r.iterate(Duration::ZERO).unwrap();
    assert_eq!(polls.get(), 2);
}

/// A task that yields (wakes itself) runs once per pass: other work (a
/// timer here) is not starved.
#[test]
fn a_yielding_task_does_not_starve_timers() {
    let r = real_reactor(0u32);
    let bomb = watchdog(&r, Duration::from_secs(10));
    let spins = Rc::new(Cell::new(0u32));
    let count = Rc::clone(&spins);
    let handle = r.clone();
    let spinner = r.spawn(async move {
        loop {
            count.set(count.get() + 1);
            yield_now().await;
        }
        #[allow(unreachable_code)]
        ()
    });
    r.call_later(Duration::from_millis(20), |cx| cx.reactor.stop());
    r.run().unwrap();
    assert!(!bomb.fired(), "watchdog fired: the timer was starved");
    assert!(spins.get() > 1);
    spinner.cancel();
    drop(handle);
    assert_eq!(r.pending_tasks(), 0);
}

// ------------------------------------------------- errors and panics

/// An `Err` returned by the future goes down its Deferred's errback path,
/// converted into a `Failure`.
#[test]
fn an_error_reaches_the_errback() {
    let r = fake_reactor();
    let d = r.spawn(async { "x".parse::<u32>() });
    let f = failure(&d);
    assert!(f.is::<std::num::ParseIntError>());
}

/// An error nobody handles is logged when the Deferred goes, as for any
/// Deferred.
#[test]
fn an_unhandled_error_is_logged() {
    let r = fake_reactor();
    let errors = capture::errors_during(|| {
        drop(r.spawn(async { Err::<(), _>(Failure::msg("task went wrong")) }));
    });
    assert!(
        errors
            .iter()
            .any(|e| e.contains("Unhandled error in Deferred") && e.contains("task went wrong")),
        "{errors:?}"
    );
}

/// The same when the future fails later, after the caller dropped its
/// Deferred: the task's own handle is the last, and the failure is logged
/// when the task ends.
#[test]
fn an_unhandled_error_after_an_await_is_logged_when_the_task_ends() {
    let r = fake_reactor();
    let handle = r.clone();
    drop(r.spawn(async move {
        sleep(&handle, Duration::from_secs(1)).await?;
        Err::<(), _>(Failure::msg("failed later"))
    }));
    let errors = capture::errors_during(|| r.advance(Duration::from_secs(1)).unwrap());
    assert!(
        errors
            .iter()
            .any(|e| e.contains("Unhandled error in Deferred") && e.contains("failed later")),
        "{errors:?}"
    );
    assert_eq!(r.pending_tasks(), 0);
}

/// A panic in a spawned future (before or after an await) fails its
/// Deferred with `Error::Panicked`, and the reactor carries on: other tasks
/// and timers still run.
#[test]
fn a_panic_reaches_the_errback_and_the_reactor_keeps_running() {
    let r = real_reactor(());
    let bomb = watchdog(&r, Duration::from_secs(10));
    let at_once = r.spawn(async {
        if true {
            panic!("boom at once");
        }
    });
    let handle = r.clone();
    let later = r.spawn(async move {
        sleep(&handle, Duration::from_millis(5)).await?;
        if handle.running() {
            panic!("boom later");
        }
        Ok::<_, Failure>(())
    });
    let handle = r.clone();
    let survivor = r.spawn(async move {
        sleep(&handle, Duration::from_millis(20)).await?;
        handle.stop()?;
        Ok::<_, Failure>("still here")
    });
    r.run().unwrap();
    assert!(!bomb.fired(), "watchdog fired");
    let f = failure(&at_once);
    assert!(
        is_error(
            &f,
            |e| matches!(e, Error::Panicked(m) if m == "boom at once")
        ),
        "{f}"
    );
    let f = failure(&later);
    assert!(
        is_error(&f, |e| matches!(e, Error::Panicked(m) if m == "boom later")),
        "{f}"
    );
    assert_eq!(success(&survivor), "still here");
    assert_eq!(r.pending_tasks(), 0);
}

/// An unhandled panic is logged (as an unhandled failure) when its
/// Deferred goes.
#[test]
fn an_unhandled_panic_is_logged() {
    let r = fake_reactor();
    let errors = capture::errors_during(|| {
        drop(r.spawn(async {
            if true {
                panic!("nobody listens");
            }
        }));
    });
    assert!(
        errors.iter().any(|e| e.contains("nobody listens")),
        "{errors:?}"
    );
}

/// A panic in a callback of the task's Deferred (run when the task
/// completes) is caught and becomes the Deferred's failure, logged as
/// unhandled once the Deferred goes (Twisted's "Unhandled error in
/// Deferred"); the reactor carries on.
#[test]
fn a_panic_in_the_deferreds_callback_is_logged_and_survived() {
    let r = fake_reactor();
    let gate: Deferred<()> = Deferred::new();
    let wait = gate.clone();
    let d = r.spawn(async move { wait.await });
    d.add_callback(|()| -> Result<(), Failure> { panic!("callback boom") });
    gate.callback(()).unwrap();
    let errors = capture::errors_during(|| {
        r.iterate(Duration::ZERO).unwrap();
        drop(d);
    });
    assert!(
        errors.iter().any(|e| e.contains("callback boom")),
        "{errors:?}"
    );
    assert_eq!(r.pending_tasks(), 0);
    let after = r.spawn(async { Ok::<_, Failure>(1) });
    assert_eq!(success(&after), 1);
}
