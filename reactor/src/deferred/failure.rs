//! [`Failure`]: the error value that travels down a [`Deferred`](super::Deferred)'s errback path.

use std::error::Error as StdError;
use std::fmt;
use std::rc::Rc;

/// An error travelling down a [`Deferred`](super::Deferred)'s errback path
/// (Twisted's `Failure`).
///
/// A `Failure` wraps any [`std::error::Error`] behind an `Rc`, so cloning it is
/// cheap and several chains (a [`DeferredList`](super::DeferredList) and the
/// member it came from, say) can hold the same error. Like `anyhow::Error`, it
/// converts from every error type with `From`, so `?` works inside callbacks
/// that return `Result<T, Failure>`; for that reason `Failure` itself does not
/// implement `std::error::Error`. Use [`Failure::error`] to reach the wrapped
/// error, or convert it into a `Box<dyn Error>`.
///
/// `Display` prints the wrapped error; the alternate form (`{:#}`) also
/// prints its chain of sources, separated by `": "`.
///
/// # Examples
///
/// ```
/// use tx0mq_reactor::deferred::Failure;
/// use tx0mq_reactor::Error;
///
/// let failure = Failure::from(Error::Cancelled);
/// assert!(failure.is::<Error>());
/// assert!(matches!(failure.downcast_ref::<Error>(), Some(Error::Cancelled)));
/// assert!(failure.is_cancelled());
///
/// let parsed: Result<u8, Failure> = "300".parse::<u8>().map_err(Failure::from);
/// assert!(parsed.unwrap_err().is::<std::num::ParseIntError>());
///
/// let plain = Failure::msg("no route to the broker");
/// assert_eq!(plain.to_string(), "no route to the broker");
/// ```
#[derive(Clone)]
pub struct Failure {
    error: Rc<dyn StdError + 'static>,
}

impl Failure {
    /// Wraps `error`.
    pub fn new<E: StdError + 'static>(error: E) -> Self {
        Failure {
            error: Rc::new(error),
        }
    }

    /// A failure carrying only a message (for errors that have no type of
    /// their own).
    pub fn msg(message: impl Into<String>) -> Self {
        Failure::new(Message(message.into()))
    }

    /// Wraps an error that is already boxed.
    ///
    /// ```
    /// use tx0mq_reactor::deferred::Failure;
    ///
    /// let boxed: Box<dyn std::error::Error> = "x".parse::<i32>().unwrap_err().into();
    /// assert!(Failure::from_boxed(boxed).is::<std::num::ParseIntError>());
    /// ```
    pub fn from_boxed(error: Box<dyn StdError + 'static>) -> Self {
        Failure {
            error: Rc::from(error),
        }
    }

    /// The wrapped error.
    pub fn error(&self) -> &(dyn StdError + 'static) {
        &*self.error
    }

    /// The wrapped error as an `E`, if it is one (Twisted's `Failure.check`).
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        self.error.downcast_ref::<E>()
    }

    /// Whether the wrapped error is an `E`.
    pub fn is<E: StdError + 'static>(&self) -> bool {
        self.error.is::<E>()
    }

    /// Whether this is the reactor's [`Error::Cancelled`](crate::error::Error::Cancelled),
    /// the failure a cancelled [`Deferred`](super::Deferred) fires with.
    pub fn is_cancelled(&self) -> bool {
        matches!(
            self.downcast_ref::<crate::error::Error>(),
            Some(crate::error::Error::Cancelled)
        )
    }

    /// Whether two failures share the same wrapped error object (not merely
    /// equal errors).
    pub fn ptr_eq(&self, other: &Failure) -> bool {
        Rc::ptr_eq(&self.error, &other.error)
    }
}

impl<E: StdError + 'static> From<E> for Failure {
    fn from(error: E) -> Self {
        Failure::new(error)
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Failure").field(&self.error).finish()
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.error)?;
        if f.alternate() {
            let mut source = self.error.source();
            while let Some(error) = source {
                write!(f, ": {error}")?;
                source = error.source();
            }
        }
        Ok(())
    }
}

/// Lets `?` turn a `Failure` into a `Box<dyn Error>` (in `main`, say).
///
/// ```
/// use tx0mq_reactor::deferred::Failure;
///
/// fn run() -> Result<(), Box<dyn std::error::Error>> {
///     Err(Failure::msg("boom"))?;
///     Ok(())
/// }
/// assert_eq!(run().unwrap_err().to_string(), "boom");
/// ```
impl From<Failure> for Box<dyn StdError + 'static> {
    fn from(failure: Failure) -> Self {
        Box::new(Shared(failure))
    }
}

/// The error type behind [`Failure::msg`].
struct Message(String);

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for Message {}

/// A `Failure` seen as a `std::error::Error` (for `Box<dyn Error>`).
struct Shared(Failure);

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.error, f)
    }
}

impl StdError for Shared {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0.error.source()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[derive(Debug)]
    struct Outer(std::num::ParseIntError);

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("bad config")
        }
    }

    impl StdError for Outer {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn alternate_display_prints_the_source_chain() {
        let inner = "x".parse::<i32>().unwrap_err();
        let failure = Failure::new(Outer(inner.clone()));
        assert_eq!(failure.to_string(), "bad config");
        assert_eq!(format!("{failure:#}"), format!("bad config: {inner}"));
    }

    #[test]
    fn clones_share_the_error() {
        let a = Failure::from(Error::Cancelled);
        let b = a.clone();
        assert!(a.ptr_eq(&b));
        assert!(!a.ptr_eq(&Failure::from(Error::Cancelled)));
    }

    #[test]
    fn downcast_to_the_wrong_type_is_none() {
        let failure = Failure::msg("m");
        assert!(failure.downcast_ref::<Error>().is_none());
        assert!(!failure.is_cancelled());
        assert_eq!(format!("{failure:?}"), "Failure(\"m\")");
    }
}
