//! Reading a Deferred's result in tests, as Twisted's `successResultOf` and
//! `failureResultOf` do.
//!
//! ```
//! use tx0mq_reactor::{succeed, Failure};
//! use tx0mq_test_support::deferred::{failure, success};
//!
//! assert_eq!(success(&succeed(7)), 7);
//! let d = tx0mq_reactor::fail::<i32>(Failure::msg("no"));
//! assert_eq!(failure(&d).to_string(), "no");
//! ```

use std::cell::RefCell;
use std::rc::Rc;

use tx0mq_reactor::{Deferred, Error, Failure};

/// Where a Deferred's outcome lands.
pub type Outcome<T> = Rc<RefCell<Option<Result<T, Failure>>>>;

/// Ends `d`'s chain with a step that stores its outcome (the Deferred's
/// result is consumed).
pub fn outcome<T: 'static>(d: &Deferred<T>) -> Outcome<T> {
    let slot: Outcome<T> = Rc::new(RefCell::new(None));
    let store = Rc::clone(&slot);
    d.clone().then_both(move |result| {
        *store.borrow_mut() = Some(result);
        Ok(())
    });
    slot
}

/// `d`'s value, which it must already have.
pub fn success<T: 'static>(d: &Deferred<T>) -> T {
    match outcome(d).borrow_mut().take() {
        Some(Ok(value)) => value,
        Some(Err(failure)) => panic!("expected a value, got failure {failure:#}"),
        None => panic!("the Deferred has no result yet"),
    }
}

/// `d`'s failure, which it must already have.
pub fn failure<T: 'static>(d: &Deferred<T>) -> Failure {
    match outcome(d).borrow_mut().take() {
        Some(Err(failure)) => failure,
        Some(Ok(_)) => panic!("expected a failure, got a value"),
        None => panic!("the Deferred has no result yet"),
    }
}

/// Whether `failure` holds a reactor [`Error`] that `want` accepts.
pub fn is_error(failure: &Failure, want: fn(&Error) -> bool) -> bool {
    failure.downcast_ref::<Error>().is_some_and(want)
}
