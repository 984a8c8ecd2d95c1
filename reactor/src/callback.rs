//! What a callback may return, and how the reactor reports a failing one:
//! [`CallbackResult`] for returned errors, [`panic_message`] for panics, and
//! [`Batch`], which keeps the callbacks after one that panics from being lost.

use std::any::Any;

/// What a callback may return: `()`, or a `Result` whose error is logged.
///
/// Twisted logs an exception raised by a callback and carries on; so does this
/// reactor. A callback that returns `Err` has its error logged with
/// `log::error!`, naming the kind of callback, and the reactor goes on with the
/// next one.
pub trait CallbackResult: Sized {
    /// Turns the callback's return value into `Ok` or a boxed error.
    fn into_callback_result(self) -> std::result::Result<(), Box<dyn std::error::Error>>;

    /// Logs an error with `log::error!`, naming the kind of callback
    /// (`what`): the reactor's policy for failing callbacks, for layers built
    /// on it (the ZeroMQ connections use it for their protocols).
    fn report(self, what: &str) {
        if let Err(e) = self.into_callback_result() {
            log::error!("{what} failed: {e}");
        }
    }
}

impl CallbackResult for () {
    fn into_callback_result(self) -> std::result::Result<(), Box<dyn std::error::Error>> {
        Ok(())
    }
}

impl<E: Into<Box<dyn std::error::Error>>> CallbackResult for std::result::Result<(), E> {
    fn into_callback_result(self) -> std::result::Result<(), Box<dyn std::error::Error>> {
        self.map_err(Into::into)
    }
}

/// The message a panic was raised with, for the log line that reports it.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_string()
    }
}

/// A batch of things taken from a queue to be handled in turn (callbacks
/// to call, events to dispatch). If the batch is dropped before its end,
/// which happens when a panic unwinds out of the loop handling it (a
/// reactor built with `catch_panics(false)`), the items left are handed, in
/// order, to `give_back`, so that none is lost.
pub(crate) struct Batch<T, F: FnOnce(Vec<T>)> {
    items: std::vec::IntoIter<T>,
    give_back: Option<F>,
}

impl<T, F: FnOnce(Vec<T>)> Batch<T, F> {
    pub(crate) fn new(items: Vec<T>, give_back: F) -> Self {
        Batch {
            items: items.into_iter(),
            give_back: Some(give_back),
        }
    }
}

impl<T, F: FnOnce(Vec<T>)> Iterator for Batch<T, F> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.items.next()
    }
}

impl<T, F: FnOnce(Vec<T>)> Drop for Batch<T, F> {
    fn drop(&mut self) {
        let rest: Vec<T> = self.items.by_ref().collect();
        if let Some(give_back) = self.give_back.take() {
            if !rest.is_empty() {
                give_back(rest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::panic::{catch_unwind, AssertUnwindSafe};

    #[test]
    fn a_batch_gives_back_what_a_panic_left_unhandled() {
        let given = RefCell::new(Vec::new());
        let handled = RefCell::new(Vec::new());
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            for n in Batch::new(vec![1, 2, 3, 4], |rest| given.borrow_mut().extend(rest)) {
                handled.borrow_mut().push(n);
                assert_ne!(n, 2, "boom");
            }
        }));
        assert!(outcome.is_err());
        assert_eq!(*handled.borrow(), [1, 2]);
        assert_eq!(*given.borrow(), [3, 4]);
    }

    #[test]
    fn a_finished_batch_gives_nothing_back() {
        let called = RefCell::new(false);
        let sum: i32 = Batch::new(vec![1, 2], |_| *called.borrow_mut() = true).sum();
        assert_eq!(sum, 3);
        assert!(!*called.borrow());
    }
}
