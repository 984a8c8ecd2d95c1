//! System event triggers (Twisted's `addSystemEventTrigger`).

use crate::reactor::{Callback, Ctx};

type TriggerFn<S> = Box<dyn FnMut(&mut Ctx<'_, S>)>;

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

struct Trigger<S: 'static> {
    id: TriggerId,
    phase: Phase,
    event: SystemEvent,
    /// `None` while it runs.
    f: Option<TriggerFn<S>>,
}

pub(crate) struct Triggers<S: 'static> {
    list: Vec<Trigger<S>>,
    next_id: u64,
    pub(crate) when_running: Vec<Callback<S>>,
}

impl<S: 'static> Triggers<S> {
    pub(crate) fn new() -> Self {
        Triggers {
            list: Vec::new(),
            next_id: 0,
            when_running: Vec::new(),
        }
    }

    pub(crate) fn add(&mut self, phase: Phase, event: SystemEvent, f: TriggerFn<S>) -> TriggerId {
        self.next_id += 1;
        let id = TriggerId(self.next_id);
        self.list.push(Trigger {
            id,
            phase,
            event,
            f: Some(f),
        });
        id
    }

    /// Removes a trigger; the caller drops what comes back outside any borrow.
    pub(crate) fn remove(&mut self, id: TriggerId) -> Option<Option<TriggerFn<S>>> {
        let index = self.list.iter().position(|t| t.id == id)?;
        Some(self.list.remove(index).f)
    }

    pub(crate) fn ids(&self, event: SystemEvent, phase: Phase) -> Vec<TriggerId> {
        self.list
            .iter()
            .filter(|t| t.event == event && t.phase == phase)
            .map(|t| t.id)
            .collect()
    }

    pub(crate) fn take(&mut self, id: TriggerId) -> Option<TriggerFn<S>> {
        self.list.iter_mut().find(|t| t.id == id)?.f.take()
    }

    /// Puts a trigger back after it ran; hands it back if it was removed meanwhile.
    pub(crate) fn put_back(&mut self, id: TriggerId, f: TriggerFn<S>) -> Option<TriggerFn<S>> {
        match self.list.iter_mut().find(|t| t.id == id) {
            Some(t) => {
                t.f = Some(f);
                None
            }
            None => Some(f),
        }
    }
}
