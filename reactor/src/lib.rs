//! A single-threaded, Twisted-style reactor on [`mio`].
//!
//! This crate is the event loop of [tx0mq](https://docs.rs/tx0mq); it knows
//! nothing of ZeroMQ and can drive plain file descriptors, timers and threads
//! on its own. Names and semantics follow Twisted's, in snake case:
//!
//! | Twisted                              | here                                                  |
//! |--------------------------------------|-------------------------------------------------------|
//! | `reactor.run()` / `stop()`           | [`Reactor::run`] / [`Reactor::stop`]                  |
//! | `reactor.iterate(delay)`             | [`Reactor::iterate`]                                  |
//! | `reactor.callLater(d, f)`            | [`Reactor::call_later`] → [`DelayedCall`]             |
//! | `reactor.callWhenRunning(f)`         | [`Reactor::call_when_running`]                        |
//! | `reactor.callFromThread(f)`          | [`ThreadHandle::call_from_thread`]                    |
//! | `threads.deferToThread(f)`          | [`Reactor::defer_to_thread`]                          |
//! | `reactor.callInThread(f)`            | [`Reactor::call_in_thread`]                           |
//! | `threads.blockingCallFromThread`     | [`ThreadHandle::blocking_call_from_thread`]           |
//! | `reactor.suggestThreadPoolSize(n)`   | [`Reactor::suggest_thread_pool_size`]                 |
//! | `addSystemEventTrigger`              | [`Reactor::add_system_event_trigger`]                 |
//! | `signal.signal(SIGHUP, f)`           | [`Reactor::add_signal_handler`]                       |
//! | `addReader` / `addWriter` / `removeAll` | [`Reactor::add_reader`], [`Reactor::add_writer`], [`Reactor::remove_all`] |
//! | `task.LoopingCall` (`withCount`)     | [`LoopingCall`] ([`LoopingCall::with_count`])         |
//! | `task.Clock`                         | [`ReactorBuilder::fake_clock`] + [`Reactor::advance`] |
//! | `defer.Deferred`                     | [`Deferred`]                                          |
//! | `ensureDeferred(coro)`, `await d`    | [`Reactor::spawn`] / [`ensure_deferred`], `d.await`   |
//! | `task.deferLater(r, d)` (awaited)    | [`sleep`]                                             |
//!
//! # Callbacks, state and reentrancy
//!
//! Every reactor callback receives a [`Ctx`]: the reactor, and `&mut S`, the
//! application state the reactor was built with. State that several callbacks
//! share lives there, so user code needs no `Rc<RefCell<_>>`. From inside any
//! callback you may schedule and cancel timers (the running one included), add
//! and remove readers (the running one included), fire Deferreds, queue thread
//! calls, or stop the reactor: the reactor never holds a borrow of its own
//! internals while user code runs.
//!
//! A callback may return `()` or a `Result`; an `Err` is logged with
//! `log::error!` and the reactor carries on, as Twisted logs a failing
//! callback. Panics in callbacks are caught and logged the same way (see
//! [`ReactorBuilder::catch_panics`]).
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use tx0mq_reactor::{LoopingCall, Reactor};
//!
//! let reactor = Reactor::builder().state(0u32).handle_signals(false).build()?;
//! let ticker = LoopingCall::new(&reactor, |cx| {
//!     *cx.state += 1;
//!     if *cx.state == 3 {
//!         cx.reactor.stop()?;
//!     }
//!     Ok::<(), tx0mq_reactor::Error>(())
//! });
//! ticker.start(Duration::from_millis(5), true)?;
//! reactor.run()?;
//! assert_eq!(reactor.access_state(|ticks| *ticks)?, 3);
//! # Ok::<(), tx0mq_reactor::Error>(())
//! ```
//!
//! Unix only (Linux, the BSDs, macOS): the reactor polls Unix file
//! descriptors, and other targets fail to compile with a message saying so.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

#[cfg(not(unix))]
compile_error!(
    "tx0mq-reactor supports Unix only (Linux, the BSDs, macOS): the reactor polls Unix file descriptors"
);

mod callback;
mod clock;
pub mod deferred;
mod error;
pub mod executor;
mod fd;
mod keyed;
mod looping;
mod pool;
mod reactor;
mod signals;
mod spawn;
mod stats;
mod task;
mod thread;
mod timer;
mod trigger;

pub use callback::CallbackResult;
pub use deferred::*;
pub use error::{Error, Result};
pub use executor::{ensure_deferred, gather_futures, TaskOutput};
pub use fd::SourceId;
pub use looping::LoopingCall;
pub use reactor::{Ctx, Reactor, ReactorBuilder, ThreadHandle, WeakReactor};
pub use signals::SignalHandlerId;

/// Signal numbers for [`Reactor::add_signal_handler`] (`signal::SIGHUP`,
/// `signal::SIGUSR1`, ...): the platform's, as `libc` defines them.
pub mod signal {
    pub use signal_hook::consts::signal::*;
}
pub use spawn::ReactorThread;
pub use stats::{CallbackKind, ReactorStats, LATENESS_BOUNDS, LATENESS_BUCKETS};
pub use timer::DelayedCall;
pub use trigger::{Phase, SystemEvent, TriggerId};
