//! [`ReactorThread`]: a reactor running on a thread of its own, for a
//! process that uses one reactor per core.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;
use std::thread::JoinHandle;

use crate::callback::panic_message;
use crate::error::{Error, Result};
use crate::reactor::{Reactor, ThreadHandle};

/// What a setup function may fail with.
type SetupError = Box<dyn std::error::Error + Send + Sync>;

/// A reactor running on a thread of its own.
///
/// A reactor is single-threaded: its callbacks, connections and state never
/// leave the thread that built it. To use more than one core, run one
/// reactor per core, each with its own connections, talking to each other
/// over ZeroMQ's `inproc://` transport (their factories sharing one
/// context). [`spawn`](Self::spawn) builds a reactor on a new thread with
/// your setup function, runs it, and hands back its [`ThreadHandle`] (for
/// [`call_from_thread`](ThreadHandle::call_from_thread)) and the thread's
/// outcome ([`join`](Self::join)).
///
/// Every running reactor stops on SIGINT and SIGTERM (unless built with
/// [`handle_signals(false)`](crate::ReactorBuilder::handle_signals)), so
/// Ctrl-C stops the main reactor and every reactor thread together.
///
/// Dropping a `ReactorThread` that was not joined stops its reactor and
/// waits for the thread to end.
///
/// ```
/// use tx0mq_reactor::{Reactor, ReactorThread};
///
/// let worker = ReactorThread::spawn("worker", || {
///     Reactor::builder().state(0u64).handle_signals(false).build()
/// })?;
/// // Any thread may queue work on it.
/// let answer = worker.handle().blocking_call_from_thread(|cx| {
///     *cx.state += 42;
///     *cx.state
/// })?;
/// assert_eq!(answer, 42);
/// worker.stop()?;
/// worker.join()?;
/// # Ok::<(), tx0mq_reactor::Error>(())
/// ```
pub struct ReactorThread<S: 'static = ()> {
    name: String,
    handle: ThreadHandle<S>,
    /// `None` once joined.
    join: Option<JoinHandle<Result<()>>>,
}

impl<S: 'static> fmt::Debug for ReactorThread<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReactorThread")
            .field("name", &self.name)
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl<S: 'static> ReactorThread<S> {
    /// Starts a thread named `name`, calls `setup` on it to build the
    /// reactor (and whatever it serves: factories, connections, timers),
    /// then runs the reactor there until it stops.
    ///
    /// Returns once `setup` has returned, so connections it binds are bound
    /// when `spawn` returns.
    ///
    /// # Errors
    ///
    /// [`Error::ReactorThread`] naming the thread if `setup` fails or
    /// panics (the thread has ended by then); [`Error::Io`] if the thread
    /// cannot be started.
    pub fn spawn<F, E>(name: impl Into<String>, setup: F) -> Result<Self>
    where
        F: FnOnce() -> std::result::Result<Reactor<S>, E> + Send + 'static,
        E: Into<SetupError>,
    {
        let name = name.into();
        let (ready, handle) = mpsc::sync_channel::<std::result::Result<ThreadHandle<S>, String>>(1);
        let join = std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || {
                let reactor = match catch_unwind(AssertUnwindSafe(setup)) {
                    Ok(Ok(reactor)) => reactor,
                    Ok(Err(e)) => {
                        let e: SetupError = e.into();
                        let _ = ready.send(Err(format!("setup failed: {e}")));
                        return Ok(());
                    }
                    Err(payload) => {
                        let message = panic_message(&*payload);
                        let _ = ready.send(Err(format!("setup panicked: {message}")));
                        return Ok(());
                    }
                };
                if ready.send(Ok(reactor.thread_handle())).is_err() {
                    return Ok(()); // the caller is gone; nobody could stop it
                }
                reactor.run()
            })
            .map_err(|e| Error::io(format!("start the reactor thread {name:?}"), e))?;
        match handle.recv() {
            Ok(Ok(handle)) => Ok(ReactorThread {
                name,
                handle,
                join: Some(join),
            }),
            Ok(Err(reason)) => {
                let _ = join.join();
                Err(Error::ReactorThread {
                    thread: name,
                    reason,
                })
            }
            Err(mpsc::RecvError) => {
                let reason = match join.join() {
                    Err(payload) => format!("panicked: {}", panic_message(&*payload)),
                    Ok(_) => "ended before its reactor was built".to_string(),
                };
                Err(Error::ReactorThread {
                    thread: name,
                    reason,
                })
            }
        }
    }

    /// The thread's name, as given to [`spawn`](Self::spawn).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The handle other threads use to queue calls on this reactor.
    pub fn handle(&self) -> &ThreadHandle<S> {
        &self.handle
    }

    /// True once the reactor has stopped and the thread has ended.
    pub fn is_finished(&self) -> bool {
        self.join.as_ref().is_none_or(|join| join.is_finished())
    }

    /// Asks the reactor to stop (its shutdown triggers run on its thread).
    /// Returns at once; [`join`](Self::join) waits for the thread. Stopping
    /// a reactor that has already stopped does nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the reactor cannot be woken.
    pub fn stop(&self) -> Result<()> {
        let stop = self.handle.call_from_thread(|cx| {
            if cx.reactor.running() && !cx.reactor.is_stopping() {
                cx.reactor.stop()
            } else {
                Ok(())
            }
        });
        match stop {
            Ok(()) | Err(Error::ReactorGone) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Waits for the reactor to stop and the thread to end, and returns
    /// what the reactor's `run` returned.
    ///
    /// # Errors
    ///
    /// The reactor's [`run`](Reactor::run) error, or
    /// [`Error::ReactorThread`] if a panic ended the thread (a callback's
    /// panic, with [`catch_panics(false)`](crate::ReactorBuilder::catch_panics)).
    pub fn join(mut self) -> Result<()> {
        self.join_thread()
    }

    /// [`stop`](Self::stop), then [`join`](Self::join).
    ///
    /// # Errors
    ///
    /// As for both.
    pub fn stop_and_join(self) -> Result<()> {
        self.stop()?;
        self.join()
    }

    fn join_thread(&mut self) -> Result<()> {
        let Some(join) = self.join.take() else {
            return Ok(());
        };
        match join.join() {
            Ok(outcome) => outcome,
            Err(payload) => Err(Error::ReactorThread {
                thread: self.name.clone(),
                reason: format!("panicked: {}", panic_message(&*payload)),
            }),
        }
    }
}

impl<S: 'static> Drop for ReactorThread<S> {
    /// Stops the reactor and waits for its thread, if not joined yet.
    fn drop(&mut self) {
        if self.join.is_none() {
            return;
        }
        if let Err(e) = self.stop() {
            log::warn!("stop the reactor thread {:?}: {e}", self.name);
        }
        if let Err(e) = self.join_thread() {
            log::warn!("reactor thread {:?}: {e}", self.name);
        }
    }
}
