//! [`DeferredList`] and [`gather_results`]: one Deferred for many.

use std::cell::RefCell;
use std::error::Error as StdError;
use std::fmt;
use std::rc::{Rc, Weak};

use super::{Core, Deferred, Failure, Next, Step};

/// The result of a [`DeferredList`].
#[derive(Debug)]
pub enum ListResult<T> {
    /// Every member fired: their outcomes, in the order the members were
    /// given. (With `fire_on_one_errback` this only happens when they all
    /// succeeded.)
    All(Vec<Result<T, Failure>>),
    /// With `fire_on_one_callback`: the first member to succeed, and its
    /// position in the list.
    First {
        /// The member's position in the list given to [`DeferredList::new`].
        index: usize,
        /// Its value.
        value: T,
    },
}

impl<T> ListResult<T> {
    /// The outcomes of all members, if this is [`ListResult::All`].
    pub fn into_all(self) -> Option<Vec<Result<T, Failure>>> {
        match self {
            ListResult::All(results) => Some(results),
            ListResult::First { .. } => None,
        }
    }

    /// The position and value of the first member to succeed, if this is
    /// [`ListResult::First`].
    pub fn into_first(self) -> Option<(usize, T)> {
        match self {
            ListResult::First { index, value } => Some((index, value)),
            ListResult::All(_) => None,
        }
    }
}

/// The failure of a [`DeferredList`] built with `fire_on_one_errback`, and of
/// [`gather_results`]: which member failed first, and how (Twisted's
/// `FirstError`).
///
/// ```
/// use tx0mq_reactor::deferred::{fail, gather_results, succeed, FirstError};
/// use tx0mq_reactor::Error;
///
/// let all = gather_results(vec![succeed(1), fail(Error::Cancelled)]);
/// all.add_errback(|f| {
///     let first = f.downcast_ref::<FirstError>().expect("a FirstError");
///     assert_eq!(first.index, 1);
///     assert!(first.failure.is_cancelled());
///     Ok(vec![])
/// });
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FirstError {
    /// The failed member's position in the list.
    pub index: usize,
    /// Its failure.
    pub failure: Failure,
}

impl fmt::Display for FirstError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Deferred #{} of the list failed: {}",
            self.index, self.failure
        )
    }
}

impl StdError for FirstError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(self.failure.error())
    }
}

/// Waits for several Deferreds at once (Twisted's `DeferredList`).
///
/// A builder: give it the members, choose the options, then
/// [`build`](DeferredList::build) the `Deferred<ListResult<T>>` that fires
///
/// - by default, once every member has fired, with [`ListResult::All`]
///   holding each member's outcome in input order (an empty list fires at
///   once);
/// - with [`fire_on_one_callback`](DeferredList::fire_on_one_callback), as
///   soon as one member succeeds, with [`ListResult::First`];
/// - with [`fire_on_one_errback`](DeferredList::fire_on_one_errback), as soon
///   as one member fails, with a [`FirstError`] failure.
///
/// The members are consumed: each one's result moves into the list. A
/// member's failure stays in the member's own chain too (so it is logged if
/// nothing handles it there) unless [`consume_errors`](DeferredList::consume_errors)
/// is set.
///
/// Cancelling the list's Deferred cancels every member; the list then fires
/// by the rules above with whatever the members do (usually `Cancelled`
/// failures: an `All` of them by default, a `FirstError` with
/// `fire_on_one_errback`), as in Twisted.
///
/// # Examples
///
/// ```
/// use tx0mq_reactor::deferred::{Deferred, DeferredList, ListResult};
///
/// let (a, b) = (Deferred::new(), Deferred::new());
/// let list = DeferredList::new(vec![a.clone(), b.clone()])
///     .consume_errors(true)
///     .build();
/// b.errback(tx0mq_reactor::Error::Cancelled).unwrap();
/// a.callback("a").unwrap();
/// list.then(|result| {
///     let all = result.into_all().unwrap_or_default();
///     assert_eq!(all.len(), 2);
///     assert_eq!(*all[0].as_ref().unwrap(), "a");
///     assert!(all[1].as_ref().unwrap_err().is_cancelled());
///     Ok(())
/// });
/// ```
pub struct DeferredList<T: 'static> {
    deferreds: Vec<Deferred<T>>,
    fire_on_one_callback: bool,
    fire_on_one_errback: bool,
    consume_errors: bool,
}

impl<T: 'static> fmt::Debug for DeferredList<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeferredList")
            .field("deferreds", &self.deferreds)
            .field("fire_on_one_callback", &self.fire_on_one_callback)
            .field("fire_on_one_errback", &self.fire_on_one_errback)
            .field("consume_errors", &self.consume_errors)
            .finish()
    }
}

impl<T: 'static> DeferredList<T> {
    /// A list of `deferreds` with every option off.
    pub fn new(deferreds: Vec<Deferred<T>>) -> Self {
        DeferredList {
            deferreds,
            fire_on_one_callback: false,
            fire_on_one_errback: false,
            consume_errors: false,
        }
    }

    /// Fire with [`ListResult::First`] as soon as a member succeeds. An
    /// empty list then never fires (as in Twisted).
    pub fn fire_on_one_callback(mut self, yes: bool) -> Self {
        self.fire_on_one_callback = yes;
        self
    }

    /// Fail with a [`FirstError`] as soon as a member fails.
    pub fn fire_on_one_errback(mut self, yes: bool) -> Self {
        self.fire_on_one_errback = yes;
        self
    }

    /// Take members' failures out of their own chains (each member's chain
    /// is left consumed), so they are not logged as unhandled there.
    pub fn consume_errors(mut self, yes: bool) -> Self {
        self.consume_errors = yes;
        self
    }

    /// Attaches the list to its members and returns the Deferred that fires
    /// as described on [`DeferredList`].
    pub fn build(self) -> Deferred<ListResult<T>> {
        let DeferredList {
            deferreds,
            fire_on_one_callback,
            fire_on_one_errback,
            consume_errors,
        } = self;
        let count = deferreds.len();
        let members: Vec<Weak<RefCell<Core<T>>>> =
            deferreds.iter().map(|d| Rc::downgrade(&d.core)).collect();
        let list = Deferred::with_canceller(move |_| {
            for member in members {
                if let Some(core) = member.upgrade() {
                    Deferred::from_core(core).cancel();
                }
            }
        });
        if count == 0 && !fire_on_one_callback {
            // Cannot fail: the Deferred was made just above.
            let _ = list.callback(ListResult::All(Vec::new()));
            return list;
        }
        let shared = Rc::new(RefCell::new(Gathered {
            results: (0..count).map(|_| None).collect(),
            remaining: count,
        }));
        for (index, member) in deferreds.into_iter().enumerate() {
            let list = list.clone();
            let shared = Rc::clone(&shared);
            member.push(Box::new(move |result| {
                let list_called = list.called();
                let mut fire = None;
                let next = match result {
                    Ok(value) => {
                        if list_called {
                            drop(value);
                        } else if fire_on_one_callback {
                            fire = Some(Ok(ListResult::First { index, value }));
                        } else {
                            shared.borrow_mut().store(index, Ok(value));
                        }
                        Next::Consumed
                    }
                    Err(failure) => {
                        let next = if consume_errors {
                            Next::Consumed
                        } else {
                            Next::Step(Step::Failure(failure.clone()))
                        };
                        if list_called {
                            drop(failure);
                        } else if fire_on_one_errback {
                            fire = Some(Err(Failure::new(FirstError { index, failure })));
                        } else {
                            shared.borrow_mut().store(index, Err(failure));
                        }
                        next
                    }
                };
                let all_done = {
                    let mut gathered = shared.borrow_mut();
                    gathered.remaining = gathered.remaining.saturating_sub(1);
                    gathered.remaining == 0
                };
                if fire.is_none() && all_done && !list_called {
                    let results = std::mem::take(&mut shared.borrow_mut().results);
                    fire = Some(Ok(ListResult::All(results.into_iter().flatten().collect())));
                }
                // The list may have been fired by its own cancel meanwhile:
                // then the outcome is dropped, like any late result.
                let _ = match fire {
                    Some(Ok(result)) => list.callback(result),
                    Some(Err(failure)) => list.errback(failure),
                    None => Ok(()),
                };
                next
            }));
        }
        list
    }
}

/// The members' outcomes collected so far.
struct Gathered<T> {
    results: Vec<Option<Result<T, Failure>>>,
    remaining: usize,
}

impl<T> Gathered<T> {
    fn store(&mut self, index: usize, result: Result<T, Failure>) {
        if let Some(slot) = self.results.get_mut(index) {
            *slot = Some(result);
        }
    }
}

/// All the values of `deferreds`, in input order, or the first failure
/// (Twisted's `gatherResults`).
///
/// Fails, as soon as a member fails, with a [`FirstError`] naming that
/// member. Members' failures are consumed (Twisted's `consumeErrors=True`):
/// the first one reaches you inside the `FirstError`, later ones are dropped.
/// Cancelling the returned Deferred cancels the members that have not fired;
/// it then fails with the `FirstError` of the first member whose
/// cancellation failed it (usually a `Cancelled`).
///
/// ```
/// use tx0mq_reactor::deferred::{gather_results, succeed, Deferred};
///
/// let later = Deferred::new();
/// let all = gather_results(vec![succeed(1), later.clone(), succeed(3)]);
/// assert!(!all.called());
/// later.callback(2).unwrap();
/// all.then(|values| {
///     assert_eq!(values, [1, 2, 3]);
///     Ok(())
/// });
/// ```
pub fn gather_results<T: 'static>(deferreds: Vec<Deferred<T>>) -> Deferred<Vec<T>> {
    DeferredList::new(deferreds)
        .fire_on_one_errback(true)
        .consume_errors(true)
        .build()
        .then(|result| match result {
            ListResult::All(results) => results.into_iter().collect::<Result<Vec<T>, Failure>>(),
            ListResult::First { .. } => Err(Failure::msg(
                "internal error: gather_results got a fire_on_one_callback result",
            )),
        })
}
