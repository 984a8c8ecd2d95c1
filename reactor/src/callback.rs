//! What a callback may return, and how the reactor reports a failing one:
//! [`CallbackResult`] for returned errors, [`panic_message`] for panics.

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
