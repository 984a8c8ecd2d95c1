//! Twisted's `Deferred`: a chain of callbacks for a result that is not there yet.
//!
//! A [`Deferred<T>`] stands for a value of type `T` (or a [`Failure`]) that
//! some producer will supply later by calling [`callback`](Deferred::callback)
//! or [`errback`](Deferred::errback) exactly once. Consumers attach steps to its
//! chain: [`add_callback`](Deferred::add_callback) steps see values,
//! [`add_errback`](Deferred::add_errback) steps see failures,
//! [`add_both`](Deferred::add_both) steps see either. When the Deferred fires,
//! the steps run in the order they were added, each one receiving the outcome
//! of the one before: a callback that fails switches the chain to the errback
//! path, an errback that returns a value switches it back. Steps added after
//! the Deferred fired run at once.
//!
//! # What a step returns
//!
//! Every step returns something implementing [`IntoStep<T>`]:
//!
//! - `Result<T, Failure>`: `Ok(value)` continues on the callback path,
//!   `Err(failure)` on the errback path. Because every error type converts
//!   into a [`Failure`], `?` works inside a step.
//! - [`Deferred<T>`]: the chain pauses until that Deferred fires and then
//!   carries on with its result (at once, if it has already fired).
//! - [`Step<T>`]: any of the three, chosen at run time.
//!
//! [`then`](Deferred::then), [`then_both`](Deferred::then_both) and
//! [`map`](Deferred::map) change the value type: they move the chain's result
//! into a new `Deferred<U>`.
//!
//! ```
//! use std::{cell::Cell, rc::Rc};
//! use tx0mq_reactor::deferred::Deferred;
//!
//! let d: Deferred<String> = Deferred::new();
//! // `?` turns the ParseIntError into a Failure; the errback recovers with 0.
//! let number = d.clone().then(|text| Ok(text.trim().parse::<u32>()?));
//! number.add_errback(|_failure| Ok(0));
//!
//! let seen = Rc::new(Cell::new(0));
//! let out = seen.clone();
//! number.map(|n| n * 2).then(move |n| {
//!     out.set(n);
//!     Ok(())
//! });
//!
//! d.callback(" 21 ".to_string())?;
//! assert_eq!(seen.get(), 42);
//! # Ok::<(), tx0mq_reactor::Error>(())
//! ```
//!
//! # No reactor context
//!
//! Deferred steps are plain closures: unlike reactor callbacks they are not
//! handed a `&mut Ctx` and cannot reach the reactor's shared state through
//! their arguments. Capture what a step needs (a handle, an `Rc`), or do the
//! reactor work in the reactor callback that fires the Deferred. A Deferred is
//! `!Send`: it lives on the reactor's thread.
//!
//! # Reentrancy
//!
//! A step may add steps to its own Deferred (they run in the same pass of the
//! chain), fire or cancel other Deferreds (including ones that feed back into
//! this chain), and try to fire its own Deferred (which returns
//! `Err(Error::AlreadyCalled)`). No internal borrow is held while user code
//! runs, so none of this panics.
//!
//! # Consumed Deferreds
//!
//! `T` need not be `Clone`, so a result can only go one way. When a Deferred's
//! result moves somewhere else — into the outer chain when a step returns the
//! Deferred, into the new Deferred made by [`then`](Deferred::then), into a
//! [`DeferredList`] — the Deferred is *consumed*. Steps that come after that
//! point (added later, or queued behind the step that took the result) get a
//! [`Failure`] saying the result was consumed instead of a value: callbacks
//! are skipped, errbacks see it, and the outcome is discarded (a failure is
//! logged as unhandled). So `d.clone().then(f)` twice gives the second new
//! Deferred that failure. (Twisted passes `None` to such steps instead.)
//!
//! # Cancellation
//!
//! [`cancel`](Deferred::cancel) on a Deferred that has not fired calls its
//! canceller (see [`Deferred::with_canceller`]) and, if that did not fire it,
//! fails it with [`Error::Cancelled`]; the producer's one late `callback` or
//! `errback` after that is accepted and ignored. On a Deferred that fired but
//! is waiting for a Deferred returned by one of its steps, `cancel` cancels
//! that one. On any other fired Deferred it does nothing.
//!
//! # Awaiting
//!
//! A `Deferred<T>` is a [`Future`](std::future::Future) whose output is
//! `Result<T, Failure>`: inside a future run by
//! [`Reactor::spawn`](crate::Reactor::spawn), `d.await?` waits for the
//! result (at once if the Deferred already has it and is not paused).
//!
//! - Awaiting *consumes* the result at that point of the chain, as
//!   [`then`](Deferred::then) does: the first poll that finds no result
//!   appends one entry to the chain; when the chain reaches it, the result
//!   moves into the awaiting handle and its task is woken. Steps added after
//!   that point get the consumed failure.
//! - Each handle is its own awaiter: two clones awaited by two tasks append
//!   two entries; the first in chain order gets the result, the other the
//!   consumed failure (as two `then`s would).
//! - Dropping a handle that is being awaited before its result arrived (its
//!   task was cancelled, say) [cancels](Deferred::cancel) the Deferred: a
//!   request is forgotten, a timer is cancelled. Handles that were never
//!   polled never cancel anything when dropped.
//! - Polling never runs a step of the chain, and no borrow is held while a
//!   waker runs.
//!
//! [`sleep`] and [`Deferred::with_timeout`] are the awaitable helpers.
//!
//! # Unhandled failures
//!
//! When the last handle to a Deferred is dropped while its chain ends in a
//! failure that no errback consumed, the failure is logged with
//! `log::error!` as `Unhandled error in Deferred: ...` (with its source
//! chain). End every chain whose failure matters in an errback.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::mem;
use std::rc::{Rc, Weak};

use crate::error::{Error, Result};

mod failure;
mod future;
mod list;
mod time;

pub use failure::{Failure, SendFailure};
pub use future::sleep;
pub use list::{gather_results, DeferredList, FirstError, ListResult};
pub use time::defer_later;

/// What a step of a [`Deferred`]'s chain produced: the outcome the next step
/// receives.
///
/// Steps usually return a `Result<T, Failure>` or a `Deferred<T>`; return a
/// `Step` when the choice between them is made at run time.
///
/// ```
/// use tx0mq_reactor::deferred::{succeed, Deferred, Step};
///
/// let pending: Deferred<u32> = Deferred::new();
/// let wait_for = pending.clone();
/// let d = succeed(1u32);
/// d.add_callback(move |n| if n > 0 { Step::Wait(wait_for) } else { Step::Value(n) });
/// assert!(d.is_paused());
/// pending.callback(7).unwrap();
/// assert!(!d.is_paused());
/// ```
pub enum Step<T: 'static> {
    /// Continue on the callback path with this value.
    Value(T),
    /// Continue on the errback path with this failure.
    Failure(Failure),
    /// Pause the chain until this Deferred fires, then continue with its
    /// result. The Deferred is consumed (see the [module docs](self)).
    Wait(Deferred<T>),
}

impl<T: 'static> fmt::Debug for Step<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Value(_) => f.write_str("Step::Value(..)"),
            Step::Failure(failure) => f.debug_tuple("Step::Failure").field(failure).finish(),
            Step::Wait(d) => f.debug_tuple("Step::Wait").field(d).finish(),
        }
    }
}

/// What a step of a [`Deferred<T>`]'s chain may return.
///
/// Implemented for `Result<T, Failure>`, [`Deferred<T>`] and [`Step<T>`]. The
/// error type of the `Result` is fixed to [`Failure`] so that `Ok(value)`
/// needs no type annotation; any other error converts with `?`,
/// `Failure::from` or `.into()`.
pub trait IntoStep<T: 'static> {
    /// Converts `self` into the step it stands for.
    fn into_step(self) -> Step<T>;
}

impl<T: 'static> IntoStep<T> for Step<T> {
    fn into_step(self) -> Step<T> {
        self
    }
}

impl<T: 'static> IntoStep<T> for Result<T, Failure> {
    fn into_step(self) -> Step<T> {
        match self {
            Ok(value) => Step::Value(value),
            Err(failure) => Step::Failure(failure),
        }
    }
}

impl<T: 'static> IntoStep<T> for Deferred<T> {
    fn into_step(self) -> Step<T> {
        Step::Wait(self)
    }
}

/// What an internal chain entry hands back to the loop that runs the chain.
enum Next<T: 'static> {
    /// The outcome for the next entry.
    Step(Step<T>),
    /// The result moved to `outer`, a Deferred paused on this one: this
    /// Deferred is consumed and `outer`'s chain resumes with the result.
    Resume(Deferred<T>, Result<T, Failure>),
    /// The result moved elsewhere (into another Deferred's chain); this
    /// Deferred is consumed.
    Consumed,
}

type Entry<T> = Box<dyn FnOnce(Result<T, Failure>) -> Next<T>>;
type Canceller<T> = Box<dyn FnOnce(&Deferred<T>)>;

enum State<T: 'static> {
    /// Not fired yet.
    Pending,
    /// Fired; the result is in the hands of a running step.
    Busy,
    /// Fired; this is the outcome of the last step that ran.
    Ready(Result<T, Failure>),
    /// Fired, and waiting for the Deferred (held weakly, for `cancel`) that a
    /// step returned.
    Paused(Weak<RefCell<Core<T>>>),
    /// Fired, and the result moved to another chain.
    Consumed,
}

struct Core<T: 'static> {
    state: State<T>,
    entries: VecDeque<Entry<T>>,
    canceller: Option<Canceller<T>>,
    /// A loop is walking this chain (somewhere up the stack).
    running: bool,
    /// `cancel` fired (or tried to fire) the Deferred; the producer's next
    /// `callback`/`errback` is ignored instead of being `AlreadyCalled`.
    suppress_already_called: bool,
}

impl<T: 'static> Drop for Core<T> {
    fn drop(&mut self) {
        if let State::Ready(Err(failure)) = &self.state {
            log::error!("Unhandled error in Deferred: {failure:#}");
        }
    }
}

/// What `Deferred::take_ready` found.
enum Take<T> {
    Taken(Result<T, Failure>),
    NotReady,
    AlreadyConsumed,
}

/// A result that is not there yet, and the chain of steps that will process
/// it (Twisted's `Deferred`).
///
/// `Deferred` is a cheap, cloneable handle: every clone is the same Deferred.
/// See the [module documentation](self) for how the chain runs, what steps
/// may return, cancellation, reentrancy and unhandled failures.
///
/// # Examples
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use tx0mq_reactor::deferred::{Deferred, Failure};
///
/// let log = Rc::new(RefCell::new(Vec::new()));
/// let d: Deferred<i32> = Deferred::new();
/// let (a, b) = (log.clone(), log.clone());
/// d.add_callback(|n| Ok(n + 1))
///     .add_callback(|n| if n > 1 { Err(Failure::msg("too big")) } else { Ok(n) })
///     .add_callback(move |n| { a.borrow_mut().push(format!("value {n}")); Ok(n) })
///     .add_errback(move |f| { b.borrow_mut().push(format!("failure {f}")); Ok(-1) });
///
/// d.callback(1).unwrap();
/// assert_eq!(*log.borrow(), ["failure too big"]);
/// assert!(d.callback(2).is_err()); // a Deferred fires once
/// ```
pub struct Deferred<T: 'static> {
    core: Rc<RefCell<Core<T>>>,
    /// This handle's place in the chain while it is being awaited (see
    /// [`future`]); `None` for handles that were never polled.
    awaiting: Option<future::AwaitSlot<T>>,
}

impl<T: 'static> Clone for Deferred<T> {
    /// Another handle to the same Deferred. The clone is not awaiting
    /// anything, even if `self` is.
    fn clone(&self) -> Self {
        Deferred::from_core(Rc::clone(&self.core))
    }
}

impl<T: 'static> Default for Deferred<T> {
    fn default() -> Self {
        Deferred::new()
    }
}

impl<T: 'static> fmt::Debug for Deferred<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Deferred");
        match self.core.try_borrow() {
            Ok(core) => {
                let state = match &core.state {
                    State::Pending => "pending",
                    State::Busy => "running",
                    State::Ready(Ok(_)) => "succeeded",
                    State::Ready(Err(_)) => "failed",
                    State::Paused(_) => "paused",
                    State::Consumed => "consumed",
                };
                s.field("state", &state)
                    .field("pending_steps", &core.entries.len());
            }
            Err(_) => {
                s.field("state", &"<borrowed>");
            }
        }
        s.finish()
    }
}

/// A Deferred that has already succeeded with `value` (Twisted's `succeed`).
///
/// ```
/// use tx0mq_reactor::deferred::succeed;
///
/// let d = succeed(5);
/// assert!(d.called());
/// ```
pub fn succeed<T: 'static>(value: T) -> Deferred<T> {
    Deferred::from_result(Ok(value))
}

/// A Deferred that has already failed with `failure` (Twisted's `fail`).
///
/// Add an errback, or the failure is logged when the Deferred is dropped.
///
/// ```
/// use tx0mq_reactor::deferred::{fail, Deferred};
/// use tx0mq_reactor::Error;
///
/// let d: Deferred<()> = fail(Error::Cancelled);
/// d.add_errback(|f| if f.is_cancelled() { Ok(()) } else { Err(f) });
/// ```
pub fn fail<T: 'static>(failure: impl Into<Failure>) -> Deferred<T> {
    Deferred::from_result(Err(failure.into()))
}

impl<T: 'static> Deferred<T> {
    /// A Deferred that has not fired and has no canceller.
    pub fn new() -> Self {
        Deferred::from_core(Rc::new(RefCell::new(Core {
            state: State::Pending,
            entries: VecDeque::new(),
            canceller: None,
            running: false,
            suppress_already_called: false,
        })))
    }

    /// A handle to an existing chain.
    fn from_core(core: Rc<RefCell<Core<T>>>) -> Self {
        Deferred {
            core,
            awaiting: None,
        }
    }

    /// A Deferred whose [`cancel`](Deferred::cancel) first calls `canceller`
    /// with it, if it has not fired yet.
    ///
    /// The canceller should stop the work that would have produced the
    /// result. It may fire the Deferred itself (with a more specific failure,
    /// or even a value); if it does not, the Deferred fails with
    /// [`Error::Cancelled`]. The canceller is dropped once the Deferred fires.
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use tx0mq_reactor::deferred::Deferred;
    ///
    /// let stopped = Rc::new(Cell::new(false));
    /// let flag = stopped.clone();
    /// let d: Deferred<u8> = Deferred::with_canceller(move |_d| flag.set(true));
    /// d.add_errback(|f| if f.is_cancelled() { Ok(0) } else { Err(f) });
    /// d.cancel();
    /// assert!(stopped.get());
    /// assert!(d.called());
    /// ```
    pub fn with_canceller(canceller: impl FnOnce(&Deferred<T>) + 'static) -> Self {
        let d = Deferred::new();
        d.core.borrow_mut().canceller = Some(Box::new(canceller));
        d
    }

    /// A Deferred that has already fired with `result`.
    pub fn from_result(result: Result<T, Failure>) -> Self {
        let d = Deferred::new();
        d.core.borrow_mut().state = State::Ready(result);
        d
    }

    /// Whether the Deferred has fired (Twisted's `called`).
    pub fn called(&self) -> bool {
        !matches!(self.core.borrow().state, State::Pending)
    }

    /// Whether the chain is waiting for a Deferred returned by one of its
    /// steps (Twisted's `paused`).
    pub fn is_paused(&self) -> bool {
        matches!(self.core.borrow().state, State::Paused(_))
    }

    /// Fires the Deferred with `value`: its callback chain runs now.
    ///
    /// # Errors
    ///
    /// [`Error::AlreadyCalled`] if the Deferred has already fired. The
    /// exception: after [`cancel`](Deferred::cancel) fired it, the first
    /// late `callback`/`errback` returns `Ok(())` and its value is dropped.
    pub fn callback(&self, value: T) -> Result<()> {
        self.fire(Step::Value(value))
    }

    /// Fires the Deferred with `failure`: its errback chain runs now.
    ///
    /// # Errors
    ///
    /// As for [`callback`](Deferred::callback).
    pub fn errback(&self, failure: impl Into<Failure>) -> Result<()> {
        self.fire(Step::Failure(failure.into()))
    }

    /// Adds a step that runs on the callback path: it receives the value and
    /// returns the next outcome. Failures skip it. Runs at once if the
    /// Deferred has fired and its chain is not paused.
    pub fn add_callback<R: IntoStep<T>>(&self, f: impl FnOnce(T) -> R + 'static) -> &Self {
        self.push(Box::new(move |result| match result {
            Ok(value) => Next::Step(f(value).into_step()),
            Err(failure) => Next::Step(Step::Failure(failure)),
        }))
    }

    /// Adds a step that runs on the errback path: it receives the failure and
    /// returns the next outcome (`Ok` recovers; `Err` passes a failure on).
    /// Values skip it.
    pub fn add_errback<R: IntoStep<T>>(&self, f: impl FnOnce(Failure) -> R + 'static) -> &Self {
        self.push(Box::new(move |result| match result {
            Ok(value) => Next::Step(Step::Value(value)),
            Err(failure) => Next::Step(f(failure).into_step()),
        }))
    }

    /// Adds a step that runs on both paths (Twisted's `addBoth`).
    pub fn add_both<R: IntoStep<T>>(
        &self,
        f: impl FnOnce(Result<T, Failure>) -> R + 'static,
    ) -> &Self {
        self.push(Box::new(move |result| Next::Step(f(result).into_step())))
    }

    /// Adds one step with a callback and an errback; exactly one of them runs
    /// (unlike `add_callback(cb).add_errback(eb)`, where `eb` also sees
    /// failures from `cb`).
    pub fn add_callbacks<R1, R2>(
        &self,
        callback: impl FnOnce(T) -> R1 + 'static,
        errback: impl FnOnce(Failure) -> R2 + 'static,
    ) -> &Self
    where
        R1: IntoStep<T>,
        R2: IntoStep<T>,
    {
        self.push(Box::new(move |result| match result {
            Ok(value) => Next::Step(callback(value).into_step()),
            Err(failure) => Next::Step(errback(failure).into_step()),
        }))
    }

    /// Adds an errback that replaces the failure with `f(failure)`.
    ///
    /// ```
    /// use tx0mq_reactor::deferred::{fail, Deferred, Failure};
    ///
    /// let d: Deferred<()> = fail(Failure::msg("low level"));
    /// d.map_err(|f| Failure::msg(format!("while greeting: {f}")))
    ///     .add_errback(|f| {
    ///         assert_eq!(f.to_string(), "while greeting: low level");
    ///         Ok(())
    ///     });
    /// ```
    pub fn map_err<F: Into<Failure>>(&self, f: impl FnOnce(Failure) -> F + 'static) -> &Self {
        self.add_errback(move |failure| Step::Failure(f(failure).into()))
    }

    /// Moves the chain's result into a new `Deferred<U>`: a value goes through
    /// `f`, whose outcome (value, failure, or a `Deferred<U>` to wait for)
    /// becomes the new Deferred's result; a failure passes to the new
    /// Deferred unchanged.
    ///
    /// `self` is consumed (see the [module docs](self)). Cancelling the new
    /// Deferred cancels `self` (or, once `f` has returned a Deferred to wait
    /// for, that one).
    ///
    /// ```
    /// use tx0mq_reactor::deferred::{succeed, Deferred};
    ///
    /// let lengths: Deferred<usize> = succeed("four").then(|s| Ok(s.len()));
    /// lengths.then(|n| {
    ///     assert_eq!(n, 4);
    ///     Ok(())
    /// });
    /// ```
    pub fn then<U: 'static, R: IntoStep<U>>(self, f: impl FnOnce(T) -> R + 'static) -> Deferred<U> {
        self.then_both(move |result| match result {
            Ok(value) => f(value).into_step(),
            Err(failure) => Step::Failure(failure),
        })
    }

    /// Like [`then`](Deferred::then), but `f` sees failures too.
    pub fn then_both<U: 'static, R: IntoStep<U>>(
        self,
        f: impl FnOnce(Result<T, Failure>) -> R + 'static,
    ) -> Deferred<U> {
        let upstream = Rc::downgrade(&self.core);
        let next = Deferred::<U>::with_canceller(move |_| {
            if let Some(core) = upstream.upgrade() {
                Deferred::from_core(core).cancel();
            }
        });
        let target = next.clone();
        self.push(Box::new(move |result| {
            // `target` may have been cancelled already: then the producer's
            // late result is dropped, as for any cancelled Deferred.
            let _ = target.fire(f(result).into_step());
            Next::Consumed
        }));
        next
    }

    /// Moves the chain's result into a new `Deferred<U>`, mapping a value
    /// with `f`; a failure passes through unchanged. See
    /// [`then`](Deferred::then).
    pub fn map<U: 'static>(self, f: impl FnOnce(T) -> U + 'static) -> Deferred<U> {
        self.then(move |value| Step::Value(f(value)))
    }

    /// Cancels the Deferred (Twisted's `cancel`).
    ///
    /// - Not fired yet: the canceller runs (if there is one); if the Deferred
    ///   is still unfired after that, it fails with [`Error::Cancelled`]. The
    ///   producer's first late `callback`/`errback` is then accepted and
    ///   ignored.
    /// - Fired, and paused on a Deferred returned by a step: that Deferred is
    ///   cancelled (and its outcome, usually `Cancelled`, flows on).
    /// - Otherwise: nothing happens.
    pub fn cancel(&self) {
        enum Action<T: 'static> {
            Unfired(Option<Canceller<T>>),
            Inner(Weak<RefCell<Core<T>>>),
            Nothing,
        }
        let action = {
            let mut core = self.core.borrow_mut();
            match &core.state {
                State::Pending => {
                    core.suppress_already_called = true;
                    Action::Unfired(core.canceller.take())
                }
                State::Paused(inner) => Action::Inner(inner.clone()),
                _ => Action::Nothing,
            }
        };
        match action {
            Action::Unfired(canceller) => {
                if let Some(canceller) = canceller {
                    canceller(self);
                }
                if !self.called() {
                    // Cannot fail: nothing fired it since `called` said no.
                    let _ = self.fire(Step::Failure(Error::Cancelled.into()));
                }
            }
            Action::Inner(inner) => {
                if let Some(core) = inner.upgrade() {
                    Deferred::from_core(core).cancel();
                }
            }
            Action::Nothing => {}
        }
    }

    /// Fires the Deferred with the outcome of `step` and runs the chain.
    fn fire(&self, step: Step<T>) -> Result<()> {
        enum Decision<T: 'static> {
            Fire(Option<Canceller<T>>),
            Suppress,
            AlreadyCalled,
        }
        let decision = {
            let mut core = self.core.borrow_mut();
            if matches!(core.state, State::Pending) {
                core.state = State::Busy;
                Decision::Fire(core.canceller.take())
            } else if core.suppress_already_called {
                core.suppress_already_called = false;
                Decision::Suppress
            } else {
                Decision::AlreadyCalled
            }
        };
        match decision {
            Decision::Fire(canceller) => {
                drop(canceller);
                self.apply(step);
                self.run();
                Ok(())
            }
            Decision::Suppress => {
                drop(step);
                Ok(())
            }
            Decision::AlreadyCalled => {
                drop(step);
                Err(Error::AlreadyCalled)
            }
        }
    }

    /// Replaces the state, dropping the old one after the borrow ends.
    fn set_state(&self, state: State<T>) {
        let old = mem::replace(&mut self.core.borrow_mut().state, state);
        drop(old);
    }

    /// Records the outcome of a step (or of firing). A `Step::Wait` either
    /// takes the other Deferred's result at once or pauses on it.
    fn apply(&self, step: Step<T>) {
        match step {
            Step::Value(value) => self.set_state(State::Ready(Ok(value))),
            Step::Failure(failure) => self.set_state(State::Ready(Err(failure))),
            Step::Wait(inner) => {
                if Rc::ptr_eq(&self.core, &inner.core) {
                    self.set_state(State::Ready(Err(Failure::msg(
                        "a step of a Deferred returned that same Deferred; \
                         a chain cannot wait for itself",
                    ))));
                    return;
                }
                match inner.take_ready() {
                    Take::Taken(result) => self.set_state(State::Ready(result)),
                    Take::AlreadyConsumed => self.set_state(State::Ready(Err(consumed()))),
                    Take::NotReady => {
                        self.set_state(State::Paused(Rc::downgrade(&inner.core)));
                        let outer = self.clone();
                        inner.push(Box::new(move |result| Next::Resume(outer, result)));
                    }
                }
            }
        }
    }

    /// Takes the result of a fired, idle Deferred, consuming it.
    fn take_ready(&self) -> Take<T> {
        let mut core = self.core.borrow_mut();
        if core.running {
            return Take::NotReady;
        }
        match mem::replace(&mut core.state, State::Consumed) {
            State::Ready(result) => Take::Taken(result),
            State::Consumed => Take::AlreadyConsumed,
            other => {
                core.state = other;
                Take::NotReady
            }
        }
    }

    /// Appends an entry to the chain and runs the chain if it can run.
    fn push(&self, entry: Entry<T>) -> &Self {
        let rejected = {
            let mut core = self.core.borrow_mut();
            if matches!(core.state, State::Consumed) {
                Some(entry)
            } else {
                core.entries.push_back(entry);
                None
            }
        };
        match rejected {
            Some(entry) => settle_consumed(entry),
            None => self.run(),
        }
        self
    }

    /// Runs the chain until it runs out of entries, pauses, or is consumed.
    ///
    /// When the chain's result moves into an outer Deferred that was paused
    /// on this one, the loop carries on with the outer chain instead of
    /// recursing, so long chains of Deferreds waiting on Deferreds need no
    /// stack.
    fn run(&self) {
        let mut current = self.clone();
        'chains: loop {
            {
                let mut core = current.core.borrow_mut();
                if core.running {
                    // A loop further up the stack is walking this chain; it
                    // will see whatever changed.
                    return;
                }
                core.running = true;
            }
            loop {
                let job = {
                    let mut core = current.core.borrow_mut();
                    let job = core.next_job();
                    if !matches!(job, Job::Run(..)) {
                        core.running = false;
                    }
                    job
                };
                match job {
                    Job::Run(entry, result) => match run_entry(entry, result) {
                        Next::Step(step) => current.apply(step),
                        Next::Consumed => current.set_state(State::Consumed),
                        Next::Resume(outer, result) => {
                            let left = {
                                let mut core = current.core.borrow_mut();
                                core.state = State::Consumed;
                                core.running = false;
                                mem::take(&mut core.entries)
                            };
                            left.into_iter().for_each(settle_consumed);
                            outer.set_state(State::Ready(result));
                            current = outer;
                            continue 'chains;
                        }
                    },
                    Job::Settle(entries) => {
                        entries.into_iter().for_each(settle_consumed);
                        return;
                    }
                    Job::Stop => return,
                }
            }
        }
    }
}

/// Runs one chain entry. A panic in it becomes a [`Failure`] for the next
/// errback, as Twisted turns an exception in a callback into a failure: the
/// chain goes on, and the Deferred stays cancellable and awaitable.
fn run_entry<T: 'static>(entry: Entry<T>, result: Result<T, Failure>) -> Next<T> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| entry(result))) {
        Ok(next) => next,
        Err(payload) => Next::Step(Step::Failure(Failure::new(Error::CallbackPanicked(
            crate::callback::panic_message(&*payload),
        )))),
    }
}

/// What the chain loop does next.
enum Job<T: 'static> {
    Run(Entry<T>, Result<T, Failure>),
    Settle(VecDeque<Entry<T>>),
    Stop,
}

impl<T: 'static> Core<T> {
    fn next_job(&mut self) -> Job<T> {
        match self.state {
            State::Ready(_) => {}
            State::Consumed => return Job::Settle(mem::take(&mut self.entries)),
            _ => return Job::Stop,
        }
        let Some(entry) = self.entries.pop_front() else {
            return Job::Stop;
        };
        match mem::replace(&mut self.state, State::Busy) {
            State::Ready(result) => Job::Run(entry, result),
            other => {
                // Not reachable: the state was `Ready` above.
                self.state = other;
                self.entries.push_front(entry);
                Job::Stop
            }
        }
    }
}

/// The failure that steps after the point where a Deferred was consumed get.
fn consumed() -> Failure {
    Failure::msg(
        "the Deferred's result was already moved into another chain (by then/map/\
         then_both, a DeferredList, or a step that returned it); add steps before that point",
    )
}

/// Runs an entry that comes after the point where its Deferred was consumed:
/// it gets the [`consumed`] failure and its outcome is discarded.
fn settle_consumed<T: 'static>(entry: Entry<T>) {
    match entry(Err(consumed())) {
        Next::Step(Step::Failure(failure)) => {
            log::error!("Unhandled error in Deferred: {failure:#}");
        }
        Next::Step(_) | Next::Consumed => {}
        Next::Resume(outer, result) => {
            // A second chain waiting on the same Deferred: let it go on.
            outer.set_state(State::Ready(result));
            outer.run();
        }
    }
}

#[cfg(test)]
mod tests {
    //! Internal checks: no reference cycle outlives a chain.

    use std::time::Duration;

    use super::*;

    fn handles<T: 'static>(d: &Deferred<T>) -> usize {
        Rc::strong_count(&d.core)
    }

    #[test]
    fn pause_and_resume_leave_no_cycle() {
        let inner: Deferred<i32> = Deferred::new();
        let outer = succeed(1);
        let wait_for = inner.clone();
        outer.add_callback(move |_| wait_for);
        assert_eq!(handles(&outer), 2, "the inner chain holds the outer one");
        inner.callback(2).unwrap();
        assert_eq!(handles(&outer), 1);
        assert_eq!(handles(&inner), 1);
        assert!(matches!(outer.core.borrow().state, State::Ready(Ok(2))));
    }

    #[test]
    fn dropping_an_unfired_awaited_deferred_frees_the_outer_one() {
        let inner: Deferred<i32> = Deferred::new();
        let outer = succeed(1);
        outer.add_callback(move |_| inner);
        let weak = Rc::downgrade(&outer.core);
        drop(outer);
        assert!(weak.upgrade().is_none());
    }

    #[test]
    fn then_leaves_no_cycle() {
        let source: Deferred<i32> = Deferred::new();
        let next = source.clone().map(|n| n + 1);
        assert_eq!(handles(&next), 2, "the source chain holds the new one");
        source.callback(1).unwrap();
        assert_eq!(handles(&next), 1);
        assert_eq!(handles(&source), 1);
    }

    #[test]
    fn deferred_list_leaves_no_cycle() {
        let members: Vec<Deferred<i32>> = (0..3).map(|_| Deferred::new()).collect();
        let list = gather_results(members.clone());
        for (i, d) in members.iter().enumerate() {
            d.callback(i as i32).unwrap();
        }
        assert_eq!(handles(&list), 1);
        assert!(members.iter().all(|d| handles(d) == 1));
    }

    #[test]
    fn cancelled_gather_leaves_no_cycle() {
        let members: Vec<Deferred<i32>> = (0..3).map(|_| Deferred::new()).collect();
        let list = gather_results(members.clone());
        list.cancel();
        assert_eq!(handles(&list), 1);
        assert!(members.iter().all(|d| handles(d) == 1));
        list.add_errback(|_| Ok(Vec::new()));
    }

    #[test]
    fn timers_release_their_deferreds() {
        let reactor = crate::Reactor::builder()
            .fake_clock()
            .handle_signals(false)
            .build()
            .unwrap();
        let later: Deferred<i32> = defer_later(&reactor, Duration::from_secs(1), || Ok(1));
        let timed: Deferred<i32> = Deferred::new();
        timed.add_timeout(&reactor, Duration::from_secs(5));
        assert_eq!(handles(&later), 2, "the timer holds the Deferred");
        assert_eq!(handles(&timed), 2, "the timer holds the Deferred");
        reactor.advance(Duration::from_secs(1)).unwrap();
        timed.callback(2).unwrap();
        assert_eq!(handles(&later), 1);
        assert_eq!(handles(&timed), 1);
    }
}
