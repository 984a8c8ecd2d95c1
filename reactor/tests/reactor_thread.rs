//! ReactorThread: a reactor on a thread of its own (one reactor per core).

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tx0mq_reactor::{Error, Phase, Reactor, ReactorThread, SystemEvent};
use tx0mq_test_support::process::Proc;

fn quiet() -> Result<Reactor<u64>, Error> {
    Reactor::builder().state(0u64).handle_signals(false).build()
}

#[test]
fn a_spawned_reactor_runs_calls_from_other_threads_and_stops() {
    let worker = ReactorThread::spawn("worker", quiet).unwrap();
    assert_eq!(worker.name(), "worker");
    let on = worker
        .handle()
        .blocking_call_from_thread(|_| std::thread::current().name().map(str::to_string))
        .unwrap();
    assert_eq!(on.as_deref(), Some("worker"), "calls run on the new thread");
    for _ in 0..3 {
        worker
            .handle()
            .call_from_thread(|cx| *cx.state += 1)
            .unwrap();
    }
    let seen = worker
        .handle()
        .blocking_call_from_thread(|cx| *cx.state)
        .unwrap();
    assert_eq!(seen, 3);
    assert!(!worker.is_finished());
    worker.stop_and_join().unwrap();
}

#[test]
fn setup_runs_before_spawn_returns() {
    let ready = Arc::new(AtomicBool::new(false));
    let flag = ready.clone();
    let worker = ReactorThread::spawn("setup", move || {
        std::thread::sleep(Duration::from_millis(50));
        flag.store(true, Ordering::SeqCst);
        quiet()
    })
    .unwrap();
    assert!(ready.load(Ordering::SeqCst));
    worker.stop_and_join().unwrap();
}

#[test]
fn a_failing_setup_is_an_error_naming_the_thread() {
    let err = ReactorThread::<u64>::spawn("broken", || Err::<Reactor<u64>, _>("no config file"))
        .unwrap_err();
    assert!(
        matches!(&err, Error::ReactorThread { thread, reason }
            if thread == "broken" && reason.contains("no config file")),
        "{err:?}"
    );
    assert!(err.to_string().contains("\"broken\""), "{err}");
}

#[test]
fn a_panicking_setup_is_an_error_not_a_panic() {
    let err = ReactorThread::<u64>::spawn("panics", || -> Result<Reactor<u64>, Error> {
        panic!("setup exploded")
    })
    .unwrap_err();
    assert!(
        matches!(&err, Error::ReactorThread { reason, .. }
            if reason.contains("panicked") && reason.contains("setup exploded")),
        "{err:?}"
    );
}

#[test]
fn stop_runs_the_shutdown_triggers_on_the_reactor_thread() {
    let shut_down_on = Arc::new(std::sync::Mutex::new(None));
    let seen = shut_down_on.clone();
    let worker = ReactorThread::spawn("triggers", move || {
        let reactor = quiet()?;
        reactor.add_system_event_trigger(Phase::During, SystemEvent::Shutdown, move |_| {
            *seen.lock().unwrap() = std::thread::current().name().map(str::to_string);
        });
        Ok::<_, Error>(reactor)
    })
    .unwrap();
    worker.stop().unwrap();
    worker.stop().unwrap(); // a second stop does nothing
    worker.join().unwrap();
    assert_eq!(
        shut_down_on.lock().unwrap().as_deref(),
        Some("triggers"),
        "the shutdown triggers ran on the reactor's thread"
    );
}

#[test]
fn dropping_a_reactor_thread_stops_and_joins_it() {
    let stopped = Arc::new(AtomicBool::new(false));
    let flag = stopped.clone();
    let worker = ReactorThread::spawn("dropped", move || {
        let reactor = quiet()?;
        reactor.add_system_event_trigger(Phase::After, SystemEvent::Shutdown, move |_| {
            flag.store(true, Ordering::SeqCst)
        });
        Ok::<_, Error>(reactor)
    })
    .unwrap();
    drop(worker);
    assert!(
        stopped.load(Ordering::SeqCst),
        "drop returned before the reactor shut down"
    );
}

#[test]
fn a_reactor_that_stops_itself_finishes_and_stop_after_is_harmless() {
    let worker = ReactorThread::spawn("self-stopping", || {
        let reactor = quiet()?;
        reactor.call_later(Duration::ZERO, |cx| cx.reactor.stop());
        Ok::<_, Error>(reactor)
    })
    .unwrap();
    for _ in 0..500 {
        if worker.is_finished() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(worker.is_finished());
    worker.stop().unwrap();
    worker.join().unwrap();
}

#[test]
fn a_panic_that_ends_the_thread_is_reported_by_join() {
    let worker = ReactorThread::spawn("unwinds", || {
        let reactor = Reactor::builder()
            .handle_signals(false)
            .catch_panics(false)
            .build()?;
        reactor.call_later(Duration::ZERO, |_| -> () { panic!("callback bug") });
        Ok::<_, Error>(reactor)
    })
    .unwrap();
    let err = worker.join().unwrap_err();
    assert!(
        matches!(&err, Error::ReactorThread { thread, reason }
            if thread == "unwinds" && reason.contains("callback bug")),
        "{err:?}"
    );
}

/// The child's part of the SIGINT test: a main reactor and two reactor
/// threads, all with signal handling on, until SIGINT.
fn sigint_child() {
    let stopped = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for i in 0..2 {
        let stopped = stopped.clone();
        let worker = ReactorThread::spawn(format!("worker-{i}"), move || {
            let reactor = Reactor::new()?;
            reactor.add_system_event_trigger(Phase::During, SystemEvent::Shutdown, move |_| {
                stopped.fetch_add(1, Ordering::SeqCst);
            });
            Ok::<_, Error>(reactor)
        })
        .unwrap();
        // Each worker's run has installed its signal handling once it answers.
        worker.handle().blocking_call_from_thread(|_| ()).unwrap();
        workers.push(worker);
    }
    let main = Reactor::new().unwrap();
    main.call_when_running(|_| println!("running"));
    main.call_later(Duration::from_secs(20), |cx| {
        println!("child watchdog");
        cx.reactor.stop()
    });
    main.run().unwrap();
    for worker in workers {
        let name = worker.name().to_string();
        // No stop(): SIGINT must have stopped it already.
        for _ in 0..500 {
            if worker.is_finished() {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        println!("{name} finished: {}", worker.is_finished());
        worker.join().unwrap();
    }
    println!("workers shut down: {}", stopped.load(Ordering::SeqCst));
    std::process::exit(0);
}

#[test]
fn sigint_stops_the_main_reactor_and_every_reactor_thread() {
    const TEST: &str = "sigint_stops_the_main_reactor_and_every_reactor_thread";
    if std::env::var("TX0MQ_REACTOR_THREAD_CHILD").is_ok() {
        return sigint_child();
    }
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["--exact", TEST, "--nocapture", "--test-threads=1"])
        .env("TX0MQ_REACTOR_THREAD_CHILD", "1");
    let mut child = Proc::start("reactor threads (SIGINT child)", command);
    // Skips the test harness's own lines ("running 1 test", blank lines).
    let expect = |child: &mut Proc, expected: &str| loop {
        let line = child.line(Duration::from_secs(10));
        // The harness prints "test NAME ... " with no newline before our first line.
        let ours = line.trim_end().rsplit(" ... ").next().unwrap_or("");
        if ours == expected {
            return;
        }
        assert!(
            ours.is_empty() || ours.starts_with("running "),
            "expected {expected:?}, got {line:?}"
        );
    };
    expect(&mut child, "running");
    child.signal("-INT");
    expect(&mut child, "worker-0 finished: true");
    expect(&mut child, "worker-1 finished: true");
    expect(&mut child, "workers shut down: 2");
    assert!(child.wait(Duration::from_secs(10)).success());
}
