//! The reactor crate's error type.

use std::fmt;
use std::io;

/// Everything that can go wrong in the reactor crate.
///
/// Each variant's `Display` says what went wrong and, where it helps, what to do
/// about it.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The `DelayedCall` (or `Deferred`) has already been called; it cannot be
    /// cancelled, reset or fired again.
    AlreadyCalled,
    /// The `DelayedCall` has already been cancelled.
    AlreadyCancelled,
    /// A `Deferred` was cancelled before it had a result (Twisted's `CancelledError`).
    Cancelled,
    /// A `Deferred` did not fire before its timeout (Twisted's `TimeoutError`).
    TimedOut(std::time::Duration),
    /// `run` or `iterate` was called while the reactor is already running, for
    /// example from inside one of its callbacks.
    AlreadyRunning,
    /// `stop` was called on a reactor that is not running.
    NotRunning,
    /// The reactor that a handle points to has been dropped.
    ReactorGone,
    /// A fake-clock operation (`advance`, `pump`) on a reactor that uses the real clock.
    NotFakeClock,
    /// A file descriptor could not be added because it is already registered
    /// in this reactor in another role.
    FdInUse(i32),
    /// The file descriptor is not registered with this reactor.
    UnknownFd(i32),
    /// `LoopingCall::start` on a loop that is already running.
    LoopAlreadyRunning,
    /// A spawned future panicked; the message is the panic's. The task is
    /// dropped and its Deferred fails with this.
    Panicked(String),
    /// A Deferred's callback or errback panicked; the message is the
    /// panic's. The chain goes on down its errback path with this.
    CallbackPanicked(String),
    /// A function run on the reactor's thread pool (by `defer_to_thread`)
    /// panicked; the message is the panic's.
    ThreadPanicked(String),
    /// A function `blocking_call_from_thread` ran on the reactor thread
    /// panicked; the message is the panic's.
    BlockingCallPanicked(String),
    /// The reactor shut its thread pool down (at shutdown, or when dropped)
    /// before the work queued on it started; the work was dropped.
    ShutDown,
    /// `blocking_call_from_thread` was called on the reactor's own thread,
    /// where waiting for the reactor would never end.
    OnReactorThread,
    /// A [`ReactorThread`](crate::ReactorThread) failed: its setup function
    /// failed or panicked, or a panic ended its thread.
    ReactorThread {
        /// The thread's name.
        thread: String,
        /// What happened, with the setup error's or the panic's message.
        reason: String,
    },
    /// `add_signal_handler` was given a signal that cannot have a handler:
    /// SIGKILL or SIGSTOP (which cannot be caught), SIGSEGV, SIGBUS, SIGFPE
    /// or SIGILL (a fault of the program itself), or a number that is not a
    /// standard signal (real-time signals, out-of-range numbers). The
    /// message names the signal and says which.
    ///
    /// ```
    /// use tx0mq_reactor::{Error, Reactor};
    ///
    /// let reactor = Reactor::new()?;
    /// let refused = reactor.add_signal_handler(9, |_| ());
    /// assert!(matches!(refused, Err(Error::ForbiddenSignal(9))));
    /// # Ok::<(), tx0mq_reactor::Error>(())
    /// ```
    ForbiddenSignal(i32),
    /// An operating-system call failed; `context` names what was being done.
    Io {
        /// What the reactor was doing (`"poll"`, `"register fd 7"`, ...).
        context: String,
        /// The underlying error.
        source: io::Error,
    },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::AlreadyCalled => f.write_str("already called: the call has run (or the Deferred has fired) and cannot be changed or fired again"),
            Error::AlreadyCancelled => f.write_str("already cancelled: the delayed call was cancelled and cannot be changed"),
            Error::Cancelled => f.write_str("cancelled: the Deferred was cancelled before it had a result"),
            Error::TimedOut(d) => write!(f, "timed out: no result within {d:?}"),
            Error::AlreadyRunning => f.write_str("the reactor is already running (run/iterate cannot be called from inside a reactor callback)"),
            Error::NotRunning => f.write_str("the reactor is not running; there is nothing to stop"),
            Error::ReactorGone => f.write_str("the reactor has been dropped; the call was not queued"),
            Error::NotFakeClock => f.write_str("advance/pump need a reactor built with ReactorBuilder::fake_clock()"),
            Error::FdInUse(fd) => write!(f, "file descriptor {fd} is already registered with this reactor in another role"),
            Error::UnknownFd(fd) => write!(f, "file descriptor {fd} is not registered with this reactor"),
            Error::LoopAlreadyRunning => f.write_str("the LoopingCall is already running; stop it before starting it again"),
            Error::Panicked(message) => write!(f, "a spawned future panicked: {message}"),
            Error::CallbackPanicked(message) => write!(f, "a Deferred callback panicked: {message}"),
            Error::ThreadPanicked(message) => write!(f, "a function run in the reactor's thread pool panicked: {message}"),
            Error::BlockingCallPanicked(message) => write!(f, "a function blocking_call_from_thread ran on the reactor thread panicked: {message}"),
            Error::ShutDown => f.write_str("reactor shut down: its thread pool stopped before the queued work started, and the work was dropped"),
            Error::OnReactorThread => f.write_str("blocking_call_from_thread was called on the reactor thread, where it would wait forever; call the function directly"),
            Error::ReactorThread { thread, reason } => write!(f, "reactor thread {thread:?}: {reason}"),
            Error::ForbiddenSignal(signal) => f.write_str(&crate::signals::describe_refusal(*signal)),
            Error::Io { context, source } => write!(f, "{context}: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The reactor crate's `Result`.
pub type Result<T, E = Error> = std::result::Result<T, E>;
