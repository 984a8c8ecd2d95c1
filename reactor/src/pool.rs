//! The reactor's bounded thread pool (what
//! [`Reactor::defer_to_thread`](crate::Reactor::defer_to_thread) and
//! [`Reactor::call_in_thread`](crate::Reactor::call_in_thread) use): a FIFO
//! of jobs and at most `max` worker threads, started one at a time as work
//! arrives. It knows nothing of the reactor: a job is a `Send` closure with
//! an id, and [`ThreadPool::stop`] hands back the ids of the jobs it dropped.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::callback::panic_message;
use crate::error::{Error, Result};

/// A unit of work for a worker thread.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

struct State {
    queue: VecDeque<(u64, Job)>,
    /// Workers started and not yet exited.
    workers: usize,
    /// Workers waiting for a job.
    idle: usize,
    max: usize,
    stopped: bool,
}

struct Shared {
    state: Mutex<State>,
    work: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Jobs run outside the lock, so a poisoned lock holds consistent data.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// At most `max` threads running queued jobs in order.
pub(crate) struct ThreadPool {
    shared: Arc<Shared>,
    handles: Vec<JoinHandle<()>>,
    started: usize,
}

impl ThreadPool {
    /// A pool with no threads yet; `max` is raised to at least 1.
    pub(crate) fn new(max: usize) -> Self {
        ThreadPool {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    workers: 0,
                    idle: 0,
                    max: max.max(1),
                    stopped: false,
                }),
                work: Condvar::new(),
            }),
            handles: Vec::new(),
            started: 0,
        }
    }

    /// Changes the bound. Growing starts workers for jobs waiting; on
    /// shrinking, surplus workers exit after their current job.
    pub(crate) fn set_max(&mut self, max: usize) {
        self.shared.lock().max = max.max(1);
        self.shared.work.notify_all();
        while self.reserve_worker() {
            if let Err(e) = self.spawn_worker() {
                log::warn!("start a thread-pool worker: {e}; the jobs wait for running workers");
                break;
            }
        }
    }

    /// Counts a new worker in if a queued job has no idle worker to take it
    /// and the bound allows one more.
    fn reserve_worker(&self) -> bool {
        let mut state = self.shared.lock();
        let spawn = state.queue.len() > state.idle && state.workers < state.max;
        if spawn {
            state.workers += 1;
        }
        spawn
    }

    /// Starts a worker counted in by `reserve_worker` (uncounting it if the
    /// thread cannot start).
    fn spawn_worker(&mut self) -> std::io::Result<()> {
        self.started += 1;
        let shared = Arc::clone(&self.shared);
        let spawned = std::thread::Builder::new()
            .name(format!("tx0mq-pool-{}", self.started))
            .spawn(move || worker(&shared));
        match spawned {
            Ok(handle) => {
                self.handles.push(handle);
                Ok(())
            }
            Err(e) => {
                self.shared.lock().workers -= 1;
                Err(e)
            }
        }
    }

    /// Queues `job`, waking an idle worker or starting one if the bound
    /// allows.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if no worker runs and none can be started (the job is
    /// not queued).
    pub(crate) fn submit(&mut self, id: u64, job: Job) -> Result<()> {
        self.shared.lock().queue.push_back((id, job));
        if !self.reserve_worker() {
            self.shared.work.notify_one();
            return Ok(());
        }
        let Err(e) = self.spawn_worker() else {
            return Ok(());
        };
        let mut state = self.shared.lock();
        if state.workers == 0 {
            // Nobody would ever run it: take it back.
            let job = state.queue.iter().position(|(queued, _)| *queued == id);
            let job = job.and_then(|at| state.queue.remove(at));
            drop(state);
            drop(job);
            return Err(Error::io("start a thread-pool worker", e));
        }
        log::warn!("start a thread-pool worker: {e}; the job waits for a running worker");
        Ok(())
    }

    /// Drops the jobs not started, waits for the running ones and joins every
    /// worker. Returns the dropped jobs' ids, in queue order.
    pub(crate) fn stop(self) -> Vec<u64> {
        let dropped: Vec<(u64, Job)> = {
            let mut state = self.shared.lock();
            state.stopped = true;
            state.queue.drain(..).collect()
        };
        self.shared.work.notify_all();
        let ids = dropped.iter().map(|(id, _)| *id).collect();
        drop(dropped); // outside the lock: their captures may do anything
        for handle in self.handles {
            if handle.join().is_err() {
                log::error!("a thread-pool worker panicked outside a job");
            }
        }
        ids
    }
}

fn worker(shared: &Shared) {
    let mut state = shared.lock();
    loop {
        if state.workers > state.max {
            break;
        }
        if let Some((_, job)) = state.queue.pop_front() {
            drop(state);
            // Jobs catch their own panics; this keeps a stray one from
            // killing the worker.
            if let Err(payload) = catch_unwind(AssertUnwindSafe(job)) {
                log::error!("a thread-pool job panicked: {}", panic_message(&*payload));
            }
            state = shared.lock();
            continue;
        }
        if state.stopped {
            break;
        }
        state.idle += 1;
        state = shared.work.wait(state).unwrap_or_else(|p| p.into_inner());
        state.idle -= 1;
    }
    state.workers -= 1;
}
