//! System event triggers (Twisted's `addSystemEventTrigger`).

use std::cell::{Cell, RefCell};

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

/// The system events a reactor fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

struct Trigger<F> {
    id: TriggerId,
    phase: Phase,
    event: SystemEvent,
    /// `None` while it runs.
    f: Option<F>,
}

/// The triggers added to a reactor, each an `F` (the reactor's callback type).
///
/// The list is borrowed only inside these methods: [`fire`](Self::fire) hands
/// each trigger out with no borrow held, so a trigger may add or remove
/// triggers, itself included, and closures are dropped outside the borrow.
/// A trigger whose panic unwinds out of `fire` is put back all the same.
pub(crate) struct Triggers<F> {
    list: RefCell<Vec<Trigger<F>>>,
    next_id: Cell<u64>,
}

impl<F> Triggers<F> {
    pub(crate) fn new() -> Self {
        Triggers {
            list: RefCell::new(Vec::new()),
            next_id: Cell::new(0),
        }
    }

    pub(crate) fn add(&self, phase: Phase, event: SystemEvent, f: F) -> TriggerId {
        let id = TriggerId(self.next_id.get() + 1);
        self.next_id.set(id.0);
        self.list.borrow_mut().push(Trigger {
            id,
            phase,
            event,
            f: Some(f),
        });
        id
    }

    /// Removes a trigger; `false` if it was not there.
    pub(crate) fn remove(&self, id: TriggerId) -> bool {
        let removed = {
            let mut list = self.list.borrow_mut();
            let Some(index) = list.iter().position(|t| t.id == id) else {
                return false;
            };
            list.remove(index)
        };
        drop(removed); // outside the borrow: its captures may call back in
        true
    }

    /// Calls `run` on each trigger for `event` in `phase`, in the order they
    /// were added. Triggers added meanwhile wait for the next time the event
    /// fires; triggers removed meanwhile are skipped.
    pub(crate) fn fire(&self, event: SystemEvent, phase: Phase, mut run: impl FnMut(&mut F)) {
        let ids: Vec<TriggerId> = self
            .list
            .borrow()
            .iter()
            .filter(|t| t.event == event && t.phase == phase)
            .map(|t| t.id)
            .collect();
        for id in ids {
            let taken = self
                .list
                .borrow_mut()
                .iter_mut()
                .find(|t| t.id == id)
                .and_then(|t| t.f.take());
            let Some(f) = taken else {
                continue;
            };
            // Goes back into the list when dropped, even if a panic
            // unwinds out of `run`.
            let mut lent = Lent {
                triggers: self,
                id,
                f: Some(f),
            };
            if let Some(f) = lent.f.as_mut() {
                run(f);
            }
        }
    }

    /// Puts a trigger back after it ran; hands it back if it was removed
    /// meanwhile (or the list is borrowed).
    fn put_back(&self, id: TriggerId, f: F) -> Option<F> {
        let Ok(mut list) = self.list.try_borrow_mut() else {
            return Some(f);
        };
        match list.iter_mut().find(|t| t.id == id) {
            Some(t) => {
                t.f = Some(f);
                None
            }
            None => Some(f),
        }
    }
}

/// A trigger taken out of the list to be called; put back when dropped.
struct Lent<'a, F> {
    triggers: &'a Triggers<F>,
    id: TriggerId,
    f: Option<F>,
}

impl<F> Drop for Lent<'_, F> {
    fn drop(&mut self) {
        if let Some(f) = self.f.take() {
            let leftover = self.triggers.put_back(self.id, f);
            drop(leftover); // outside the borrow: its captures may call back in
        }
    }
}
