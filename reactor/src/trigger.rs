//! System event triggers (Twisted's `addSystemEventTrigger`).

use crate::keyed::Keyed;

/// When, relative to the event, a trigger runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// First: for work that must happen before the event proper.
    Before,
    /// The event itself (txZMQ's factory shuts its connections down here).
    During,
    /// Last: for work that depends on the event having happened.
    After,
}

impl Phase {
    pub(crate) const ALL: [Phase; 3] = [Phase::Before, Phase::During, Phase::After];
}

/// The system events a reactor fires (more may come, as Twisted has more).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SystemEvent {
    /// At the beginning of `run`.
    Startup,
    /// After `stop`, before `run` returns.
    Shutdown,
}

/// Identifies a trigger, for
/// [`remove_system_event_trigger`](crate::Reactor::remove_system_event_trigger).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TriggerId(u64);

/// The triggers added to a reactor, each an `F` (the reactor's callback
/// type), under their event and phase. A trigger may add or remove
/// triggers, itself included, while it runs (see `keyed.rs`).
pub(crate) struct Triggers<F> {
    list: Keyed<(SystemEvent, Phase), F>,
}

impl<F> Triggers<F> {
    pub(crate) fn new() -> Self {
        Triggers { list: Keyed::new() }
    }

    pub(crate) fn add(&self, phase: Phase, event: SystemEvent, f: F) -> TriggerId {
        TriggerId(self.list.add((event, phase), f))
    }

    /// Removes a trigger; `false` if it was not there.
    pub(crate) fn remove(&self, id: TriggerId) -> bool {
        self.list.remove(id.0).is_some()
    }

    /// Calls `run` on each trigger for `event` in `phase`, in the order they
    /// were added. Triggers added meanwhile wait for the next time the event
    /// fires; triggers removed meanwhile are skipped.
    pub(crate) fn fire(&self, event: SystemEvent, phase: Phase, run: impl FnMut(&mut F)) {
        self.list.fire((event, phase), run);
    }
}
