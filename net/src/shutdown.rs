//! What the reactor's shutdown closes: every listening port, UDP port,
//! connector and connection of this crate on that reactor, as Twisted's
//! reactor disconnects every reader and writer during its shutdown.
//!
//! Each reactor that has any of them gets one registry and one system event
//! trigger ("during" shutdown, where the ZeroMQ factory shuts down too).
//! Ports, connectors and connections join the registry when they are made
//! and leave it when they close (a connector when it is dropped), each in
//! O(log n). The trigger closes, in this order, listening ports (TCP and
//! UDP: no new connections or datagrams), connectors (attempts cancelled,
//! reconnecting factories stopped), then connections; what those calls make
//! meanwhile (a protocol that connects again from `connection_lost`) is
//! closed too, in a few more sweeps.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::panic::{self, AssertUnwindSafe};
use std::rc::{Rc, Weak};

use tx0mq_reactor::{Ctx, Phase, Reactor, SystemEvent, WeakReactor};

/// How many times the trigger looks for members made by the closing of
/// others before it leaves the rest open (they are closed when the reactor
/// is dropped).
const SWEEPS: usize = 8;

/// When, in the shutdown, a member is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Rank {
    /// Listening TCP ports and UDP ports: first, so nothing new comes in.
    Listening,
    /// Connectors: attempts cancelled, retries stopped.
    Connecting,
    /// Connections (TCP, standard I/O).
    Connection,
}

/// Something the reactor's shutdown closes.
pub(crate) trait Closable<S: 'static> {
    /// Closes it now, from the shutdown trigger: every call it owes user
    /// code (`connection_lost`, `stop_factory`, ...) is made before this
    /// returns, since no later pass may come.
    fn reactor_shutdown(self: Rc<Self>, cx: &mut Ctx<'_, S>);
}

struct Member<S: 'static> {
    rank: Rank,
    item: Weak<dyn Closable<S>>,
}

/// One reactor's members.
pub(crate) struct Registry<S: 'static> {
    next: Cell<u64>,
    members: RefCell<BTreeMap<u64, Member<S>>>,
}

/// A member's place in its reactor's registry: dropping it leaves.
pub(crate) struct Membership<S: 'static> {
    registry: Weak<Registry<S>>,
    key: u64,
}

impl<S: 'static> Drop for Membership<S> {
    fn drop(&mut self) {
        if let Some(registry) = self.registry.upgrade() {
            // Never borrowed while members run (see `Registry::shut_down`);
            // were it, the entry left would only point at a dropped member.
            if let Ok(mut members) = registry.members.try_borrow_mut() {
                members.remove(&self.key);
            }
        }
    }
}

impl<S: 'static> Registry<S> {
    fn join(self: &Rc<Self>, rank: Rank, item: Weak<dyn Closable<S>>) -> Membership<S> {
        let key = self.next.get();
        self.next.set(key + 1);
        self.members.borrow_mut().insert(key, Member { rank, item });
        Membership {
            registry: Rc::downgrade(self),
            key,
        }
    }

    /// Closes every member, by rank then age, and those made meanwhile.
    ///
    /// A member whose user code panics (a `connection_lost` that panics)
    /// does not keep the others open: each is closed, and the first panic
    /// is raised again at the end, for the reactor to log or let unwind as
    /// it is configured.
    fn shut_down(&self, cx: &mut Ctx<'_, S>) {
        let mut done: BTreeSet<u64> = BTreeSet::new();
        let mut panicked = None;
        self.sweep(cx, &mut done, &mut panicked);
        if let Some(payload) = panicked {
            panic::resume_unwind(payload);
        }
    }

    fn sweep(
        &self,
        cx: &mut Ctx<'_, S>,
        done: &mut BTreeSet<u64>,
        panicked: &mut Option<Box<dyn Any + Send>>,
    ) {
        for _ in 0..SWEEPS {
            let mut due: Vec<(Rank, u64, Weak<dyn Closable<S>>)> = self
                .members
                .borrow()
                .iter()
                .filter(|(key, _)| !done.contains(key))
                .map(|(&key, m)| (m.rank, key, m.item.clone()))
                .collect();
            if due.is_empty() {
                return;
            }
            due.sort_by_key(|&(rank, key, _)| (rank, key));
            for (_, key, item) in due {
                done.insert(key);
                let Some(item) = item.upgrade() else {
                    continue;
                };
                let closed = panic::catch_unwind(AssertUnwindSafe(|| item.reactor_shutdown(cx)));
                if let Err(payload) = closed {
                    log::error!(
                        "reactor shutdown: a callback panicked while closing; closing the rest"
                    );
                    panicked.get_or_insert(payload);
                }
            }
        }
        let left = self
            .members
            .borrow()
            .keys()
            .filter(|key| !done.contains(key))
            .count();
        if left > 0 {
            log::warn!(
                "reactor shutdown: {left} network ports or connections made while closing \
                 the others are left open"
            );
        }
    }
}

/// A reactor's registry, as the thread's list keeps it.
struct Known<S: 'static> {
    reactor: WeakReactor<S>,
    registry: Weak<Registry<S>>,
}

trait AnyKnown {
    /// Whether its reactor (whose trigger holds the registry) still exists.
    fn alive(&self) -> bool;
    fn as_any(&self) -> &dyn Any;
}

impl<S: 'static> AnyKnown for Known<S> {
    fn alive(&self) -> bool {
        self.registry.strong_count() > 0
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

thread_local! {
    /// The registries of this thread's reactors (a reactor lives on one
    /// thread). A handful: one per reactor that has a port or connection.
    static KNOWN: RefCell<Vec<Box<dyn AnyKnown>>> = const { RefCell::new(Vec::new()) };
}

/// `reactor`'s registry, made (with its trigger) on first use.
fn registry_of<S: 'static>(reactor: &Reactor<S>) -> Option<Rc<Registry<S>>> {
    let found = KNOWN
        .try_with(|known| {
            let mut known = known.borrow_mut();
            known.retain(|k| k.alive());
            known.iter().find_map(|k| {
                let k = k.as_any().downcast_ref::<Known<S>>()?;
                let theirs = k.reactor.upgrade()?;
                if theirs.ptr_eq(reactor) {
                    k.registry.upgrade()
                } else {
                    None
                }
            })
        })
        .ok()?;
    if let Some(registry) = found {
        return Some(registry);
    }
    let registry = Rc::new(Registry {
        next: Cell::new(0),
        members: RefCell::new(BTreeMap::new()),
    });
    let held = registry.clone();
    reactor.add_system_event_trigger(Phase::During, SystemEvent::Shutdown, move |cx| {
        held.shut_down(cx)
    });
    let known = Known {
        reactor: reactor.downgrade(),
        registry: Rc::downgrade(&registry),
    };
    KNOWN
        .try_with(|list| list.borrow_mut().push(Box::new(known)))
        .ok()?;
    Some(registry)
}

/// Enters `item` in `reactor`'s registry, to be closed with `rank` when the
/// reactor shuts down. `None` only while the thread is exiting.
pub(crate) fn join<S: 'static>(
    reactor: &Reactor<S>,
    rank: Rank,
    item: Weak<dyn Closable<S>>,
) -> Option<Membership<S>> {
    registry_of(reactor).map(|registry| registry.join(rank, item))
}
