//! A `Failure` leaving the reactor: `?` into `Box<dyn Error + Send + Sync>`,
//! into `anyhow::Error` through `Failure::into_send_error`, and across a
//! thread. One behaviour per test, named for it.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use tx0mq_reactor::deferred::{defer_later, Failure, SendFailure};
use tx0mq_reactor::{Error, Reactor};

type BoxError = Box<dyn StdError + Send + Sync>;

/// An error with a source, to see the chain survive.
#[derive(Debug)]
struct Config(std::num::ParseIntError);

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bad config")
    }
}

impl StdError for Config {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.0)
    }
}

fn parse_error() -> std::num::ParseIntError {
    match "x".parse::<i32>() {
        Err(e) => e,
        Ok(_) => unreachable!("\"x\" is not a number"),
    }
}

fn fake_reactor() -> Reactor {
    tx0mq_test_support::reactor::fake_clock_reactor(())
}

/// A coroutine's failure, out of `run_until_complete`, goes through `?`
/// into a `Box<dyn Error + Send + Sync>` with its message and source.
#[test]
fn question_mark_turns_a_coroutine_failure_into_a_send_sync_box() {
    fn run(reactor: &Reactor) -> Result<u32, BoxError> {
        let r = reactor.clone();
        let outcome = reactor.run_until_complete(async move {
            let n: u32 = defer_later(&r, Duration::from_millis(1), || {
                Err::<u32, _>(Failure::new(Config(parse_error())))
            })
            .await?;
            Ok::<_, Failure>(n)
        })?;
        Ok(outcome?)
    }

    let reactor = tx0mq_test_support::reactor::reactor(());
    let _watchdog = tx0mq_test_support::reactor::watchdog(&reactor, Duration::from_secs(10));
    let error = run(&reactor).expect_err("the coroutine failed");
    assert_eq!(error.to_string(), "bad config");
    assert_eq!(
        error.source().map(ToString::to_string),
        Some(parse_error().to_string())
    );
    let sent = std::thread::spawn(move || format!("{error:?}"))
        .join()
        .expect("the thread ran");
    assert_eq!(sent, format!("{:?}", Config(parse_error())));
}

/// `anyhow` takes a failure through `into_send_error`, and its alternate
/// display prints the whole chain.
#[test]
fn anyhow_takes_a_failure_through_into_send_error() {
    fn load() -> Result<(), Failure> {
        Err(Failure::new(Config(parse_error())))
    }
    fn run() -> anyhow::Result<()> {
        load().map_err(Failure::into_send_error)?;
        Ok(())
    }

    let error = run().expect_err("load failed");
    assert_eq!(
        format!("{error:#}"),
        format!("bad config: {}", parse_error())
    );
    assert_eq!(error.chain().count(), 2);
    assert!(error.downcast_ref::<SendFailure>().is_some());
}

/// The whole way PORTING.md shows: a coroutine run by `run_until_complete`
/// in a function returning `anyhow::Result`, the reactor's error with `?`
/// and the coroutine's failure with `map_err(Failure::into_send_error)?`.
#[test]
fn anyhow_takes_run_until_complete_and_the_coroutine_failure() {
    fn run(reactor: &Reactor) -> anyhow::Result<u32> {
        let r = reactor.clone();
        let n = reactor
            .run_until_complete(async move {
                defer_later(&r, Duration::from_millis(1), || {
                    Err::<u32, _>(Failure::new(Config(parse_error())))
                })
                .await
            })?
            .map_err(Failure::into_send_error)?;
        Ok(n)
    }

    let reactor = tx0mq_test_support::reactor::reactor(());
    let _watchdog = tx0mq_test_support::reactor::watchdog(&reactor, Duration::from_secs(10));
    let error = run(&reactor).expect_err("the coroutine failed");
    assert_eq!(
        format!("{error:#}"),
        format!("bad config: {}", parse_error())
    );
}

/// A cancelled coroutine's failure still says it was a cancellation once
/// it is `Send`.
#[test]
fn a_cancellation_stays_recognisable_once_send() {
    let reactor = fake_reactor();
    let r = reactor.clone();
    let task = reactor.spawn(async move {
        tx0mq_reactor::sleep(&r, Duration::from_secs(60)).await?;
        Ok::<_, Failure>(())
    });
    task.cancel();
    let seen = std::rc::Rc::new(std::cell::RefCell::new(None));
    let out = seen.clone();
    task.add_errback(move |failure| {
        let boxed: BoxError = failure.into();
        *out.borrow_mut() = Some(boxed);
        Ok(())
    });
    let boxed = seen.borrow_mut().take().expect("the task failed");
    let send = boxed.downcast_ref::<SendFailure>().expect("a SendFailure");
    assert!(send.is_cancelled());
    assert_eq!(send.to_string(), Error::Cancelled.to_string());
}
