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
/// implement `std::error::Error` (an `impl Error for Failure` would overlap
/// with `From<E: Error>` for `Failure` and std's `From<T> for T`). Use
/// [`Failure::error`] to reach the wrapped error, or convert it into a
/// `Box<dyn Error>`.
///
/// # Leaving the reactor thread
///
/// A `Failure` is not `Send`: it shares its error through an `Rc`, so the
/// same failure can sit in several chains at once without copying, and it
/// wraps *any* error type, `Rc`-holding ones included (a `Deferred` lives on
/// the reactor thread anyway). Making it `Send` would mean refusing every
/// error that is not `Send + Sync`, and paying an atomic count per clone.
///
/// Code that hands errors to another thread, or to error types that require
/// `Send + Sync` (`Box<dyn Error + Send + Sync>`, `anyhow::Error`,
/// `eyre::Report`), converts the failure with
/// [`into_send_error`](Failure::into_send_error): a [`SendFailure`] keeps the
/// message, the `Debug` text and the chain of sources as text, and is
/// `Send + Sync + 'static`. `?` does that conversion by itself into
/// `Box<dyn Error + Send + Sync>`:
///
/// ```
/// use tx0mq_reactor::deferred::Failure;
///
/// fn load() -> Result<u8, Failure> {
///     Ok("300".parse::<u8>()?)
/// }
///
/// fn run() -> Result<u8, Box<dyn std::error::Error + Send + Sync>> {
///     Ok(load()?)
/// }
/// let error = run().unwrap_err();
/// assert_eq!(error.to_string(), "number too large to fit in target type");
/// std::thread::spawn(move || println!("from another thread: {error}")).join().unwrap();
/// ```
///
/// With `anyhow` (or `eyre`), whose `?` needs an error type of its own:
/// `load().map_err(Failure::into_send_error)?`.
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

/// Lets `?` turn a `Failure` into a `Box<dyn Error + Send + Sync>` (what
/// `anyhow`, `eyre` and thread boundaries accept), through
/// [`Failure::into_send_error`]: the message and the source chain are kept
/// as text.
///
/// ```
/// use std::error::Error;
/// use tx0mq_reactor::deferred::Failure;
///
/// fn run() -> Result<(), Box<dyn Error + Send + Sync>> {
///     Err(Failure::msg("boom"))?;
///     Ok(())
/// }
/// let error = run().unwrap_err();
/// assert_eq!(error.to_string(), "boom");
/// assert!(error.downcast_ref::<tx0mq_reactor::SendFailure>().is_some());
/// ```
impl From<Failure> for Box<dyn StdError + Send + Sync + 'static> {
    fn from(failure: Failure) -> Self {
        Box::new(failure.into_send_error())
    }
}

/// Source chains longer than this are cut when a failure becomes a
/// [`SendFailure`] (a chain that loops would otherwise never end).
const MAX_CHAIN: usize = 64;

impl Failure {
    /// This failure as a [`SendFailure`]: `Send + Sync + 'static`, so it can
    /// cross threads and go into `Box<dyn Error + Send + Sync>`,
    /// `anyhow::Error` or `eyre::Report`. The wrapped error's `Display` and
    /// `Debug` text and its chain of [`source`](StdError::source)s are
    /// kept, as text: the original error's type is not (it may not be
    /// `Send`), so downcasting to it no longer works; whether the failure
    /// was a cancellation is kept ([`SendFailure::is_cancelled`]).
    ///
    /// ```
    /// use tx0mq_reactor::deferred::Failure;
    ///
    /// let failure = Failure::from("x".parse::<i32>().unwrap_err());
    /// let error = failure.into_send_error();
    /// assert_eq!(error.to_string(), "invalid digit found in string");
    /// assert!(format!("{error:?}").contains("InvalidDigit"));
    /// let report: Box<dyn std::error::Error + Send + Sync> = Box::new(error);
    /// # drop(report);
    /// ```
    pub fn into_send_error(self) -> SendFailure {
        // The sources below the wrapped error, outermost first.
        let mut sources = Vec::new();
        let mut level = self.error.source();
        while let Some(error) = level {
            if sources.len() + 1 == MAX_CHAIN {
                break;
            }
            sources.push((error.to_string(), format!("{error:?}")));
            level = error.source();
        }
        // Linked from the innermost out.
        let source = sources
            .into_iter()
            .rev()
            .fold(None, |inner, (message, debug)| {
                Some(Box::new(SendFailure {
                    message,
                    debug,
                    source: inner,
                    cancelled: false,
                }))
            });
        SendFailure {
            message: self.error.to_string(),
            debug: format!("{:?}", self.error),
            source,
            cancelled: self.is_cancelled(),
        }
    }
}

/// A [`Failure`] made `Send + Sync + 'static`, by
/// [`Failure::into_send_error`] (or `?` into a
/// `Box<dyn Error + Send + Sync>`).
///
/// It implements [`std::error::Error`]: `Display` is the wrapped error's,
/// the alternate form (`{:#}`) adds the sources as `Failure`'s does, `Debug`
/// is the wrapped error's `Debug` text, and [`source`](StdError::source)
/// walks the original chain, each level kept as text. So `anyhow`'s and
/// `eyre`'s reports print the whole chain.
///
/// ```
/// use std::error::Error;
/// use tx0mq_reactor::deferred::{Failure, SendFailure};
///
/// let error: SendFailure = Failure::msg("no route to the broker").into();
/// let moved = std::thread::spawn(move || error.to_string()).join().unwrap();
/// assert_eq!(moved, "no route to the broker");
/// ```
#[derive(Clone)]
pub struct SendFailure {
    message: String,
    debug: String,
    source: Option<Box<SendFailure>>,
    cancelled: bool,
}

impl SendFailure {
    /// Whether the failure was the reactor's
    /// [`Error::Cancelled`](crate::error::Error::Cancelled) (see
    /// [`Failure::is_cancelled`]).
    pub fn is_cancelled(&self) -> bool {
        self.cancelled
    }
}

impl From<Failure> for SendFailure {
    fn from(failure: Failure) -> Self {
        failure.into_send_error()
    }
}

impl fmt::Debug for SendFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.debug)
    }
}

impl fmt::Display for SendFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if f.alternate() {
            let mut source = self.source.as_deref();
            while let Some(error) = source {
                write!(f, ": {}", error.message)?;
                source = error.source.as_deref();
            }
        }
        Ok(())
    }
}

impl StdError for SendFailure {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
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

    fn assert_send_sync<T: Send + Sync + 'static>(_: &T) {}

    #[test]
    fn a_send_failure_keeps_message_debug_and_source_chain() {
        let inner = "x".parse::<i32>().unwrap_err();
        let error = Failure::new(Outer(inner.clone())).into_send_error();
        assert_send_sync(&error);
        assert_eq!(error.to_string(), "bad config");
        assert_eq!(format!("{error:#}"), format!("bad config: {inner}"));
        assert_eq!(format!("{error:?}"), format!("{:?}", Outer(inner.clone())));
        let source = error.source().expect("the source is kept");
        assert_eq!(source.to_string(), inner.to_string());
        assert_eq!(format!("{source:?}"), format!("{inner:?}"));
        assert!(source.source().is_none());
        assert!(!error.is_cancelled());
    }

    #[test]
    fn a_send_failure_remembers_a_cancellation() {
        assert!(Failure::from(Error::Cancelled)
            .into_send_error()
            .is_cancelled());
        assert!(!Failure::from(Error::ReactorGone)
            .into_send_error()
            .is_cancelled());
    }

    /// A source chain that never ends (an error that is its own source) is
    /// cut instead of looping.
    #[test]
    fn a_looping_source_chain_is_cut() {
        #[derive(Debug)]
        struct Loop;
        impl fmt::Display for Loop {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("loop")
            }
        }
        impl StdError for Loop {
            fn source(&self) -> Option<&(dyn StdError + 'static)> {
                Some(self)
            }
        }
        let error = Failure::new(Loop).into_send_error();
        let mut depth = 0;
        let mut level: Option<&(dyn StdError + 'static)> = Some(&error);
        while let Some(e) = level {
            depth += 1;
            level = e.source();
        }
        assert_eq!(depth, MAX_CHAIN);
    }

    fn question_mark(failure: Failure) -> Result<(), Box<dyn StdError + Send + Sync>> {
        Err(failure)?;
        Ok(())
    }

    #[test]
    fn question_mark_turns_a_failure_into_a_send_sync_box() {
        let inner = "x".parse::<i32>().unwrap_err();
        let boxed = question_mark(Failure::new(Outer(inner.clone()))).unwrap_err();
        let moved = std::thread::spawn(move || {
            let source = boxed.source().map(ToString::to_string);
            (boxed.to_string(), source)
        })
        .join()
        .unwrap();
        assert_eq!(moved, ("bad config".to_string(), Some(inner.to_string())));
    }

    #[test]
    fn downcast_to_the_wrong_type_is_none() {
        let failure = Failure::msg("m");
        assert!(failure.downcast_ref::<Error>().is_none());
        assert!(!failure.is_cancelled());
        assert_eq!(format!("{failure:?}"), "Failure(\"m\")");
    }
}
