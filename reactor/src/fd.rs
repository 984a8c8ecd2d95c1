//! File descriptors in the loop: Twisted's `IReactorFDSet` (`add_reader`,
//! `add_writer`, ...) with level-triggered semantics, and edge-triggered
//! [`SourceId`] sources for integrations such as ZeroMQ's `ZMQ_FD`.
//!
//! mio registers every descriptor edge-triggered. Readers and writers get
//! Twisted's level-triggered behaviour back by re-arming the descriptor
//! (`EPOLL_CTL_MOD`) after each callback: if it is still readable (the
//! callback read only part of what was there) the kernel reports it again on
//! the next poll. Sources are not re-armed; their handler must consume the
//! readiness, or [`Reactor::wake_source`](crate::Reactor::wake_source) itself
//! to be called on the next pass.
//!
//! [`FdTable`] knows nothing of the reactor: each callback is a `C`, which
//! the table stores and hands back to be called, and the poller's registry
//! is passed in by the caller.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::os::fd::RawFd;

use mio::event::Event;
use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use slab::Slab;

use crate::callback::Batch;
use crate::error::{Error, Result};

/// How many low bits of a poll token hold an fd's slab key; its generation
/// sits in the bits above. Half a `usize` each: 32 bits on 64-bit targets,
/// 16 on 32-bit ones, where one reactor can thus watch at most 65,535
/// descriptors at once and generations repeat every 65,535 registrations
/// (a stale event would have to outlive that many within one pass).
const KEY_BITS: u32 = usize::BITS / 2;

/// The low half of a token: the largest slab key a token can hold.
const KEY_MASK: usize = usize::MAX >> KEY_BITS;

/// Generations count modulo this, the high half all ones, which no
/// generation ever is: tokens with that half all set are the reactor's own
/// (its waker's, its signal pipe's). It is below 2^32 on every target.
const GEN_MODULUS: u32 = KEY_MASK as u32;

/// Identifies an edge-triggered source added with
/// [`Reactor::add_source`](crate::Reactor::add_source).
///
/// It carries a generation, so a stale id can never reach a later source
/// that reuses the same slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SourceId {
    /// At most [`KEY_MASK`].
    key: u32,
    /// Below [`GEN_MODULUS`].
    gen: u32,
}

impl SourceId {
    fn token(self) -> Token {
        Token(((self.gen as usize) << KEY_BITS) | self.key as usize)
    }

    fn of(token: Token) -> Self {
        SourceId {
            key: (token.0 & KEY_MASK) as u32,
            gen: (token.0 >> KEY_BITS) as u32,
        }
    }
}

/// A slab key as a token can hold it.
///
/// # Errors
///
/// [`Error::Io`] past [`KEY_MASK`] descriptors (possible only on 32-bit
/// targets); `fd` is not registered then.
fn token_key(fd: RawFd, key: usize) -> Result<u32> {
    match u32::try_from(key) {
        Ok(small) if key <= KEY_MASK => Ok(small),
        _ => Err(Error::io(
            format!("register fd {fd} with the poller"),
            io::Error::other(format!(
                "a reactor watches at most {KEY_MASK} descriptors at once on this target"
            )),
        )),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `add_reader` / `add_writer`: re-armed after each callback.
    Level,
    /// `add_source`: called on edges and wakes only.
    Edge,
}

/// Which of a level-triggered fd's two callbacks.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    Reader,
    Writer,
}

struct Slot<C> {
    serial: u64,
    /// `None` while it runs.
    callback: Option<C>,
}

struct FdEntry<C> {
    fd: RawFd,
    gen: u32,
    kind: Kind,
    reader: Option<Slot<C>>,
    writer: Option<Slot<C>>,
    /// On the ready list already.
    queued: bool,
    /// The interest mio has for this fd now, if registered.
    registered: Option<Interest>,
}

impl<C> FdEntry<C> {
    fn slot_mut(&mut self, role: Role) -> &mut Option<Slot<C>> {
        match role {
            Role::Reader => &mut self.reader,
            Role::Writer => &mut self.writer,
        }
    }

    fn wanted(&self) -> Option<Interest> {
        match (self.reader.is_some(), self.writer.is_some()) {
            (true, true) => Some(Interest::READABLE | Interest::WRITABLE),
            (true, false) => Some(Interest::READABLE),
            (false, true) => Some(Interest::WRITABLE),
            (false, false) => None,
        }
    }

    /// The id of the entry at `key`, which [`token_key`] accepted when the
    /// entry was added.
    fn id(&self, key: usize) -> SourceId {
        SourceId {
            key: (key & KEY_MASK) as u32,
            gen: self.gen,
        }
    }
}

/// The table's contents, borrowed only inside [`FdTable`]'s methods.
struct Table<C> {
    entries: Slab<FdEntry<C>>,
    by_fd: HashMap<RawFd, usize>,
    ready: Vec<SourceId>,
    next_gen: u32,
    next_serial: u64,
}

impl<C> Table<C> {
    fn get_mut(&mut self, id: SourceId) -> Option<&mut FdEntry<C>> {
        self.entries
            .get_mut(id.key as usize)
            .filter(|entry| entry.gen == id.gen)
    }

    /// Puts a source on the ready list, unless it is there already or gone.
    fn wake(&mut self, id: SourceId) {
        if let Some(entry) = self.get_mut(id) {
            if !entry.queued {
                entry.queued = true;
                self.ready.push(id);
            }
        }
    }

    fn take_gen(&mut self) -> u32 {
        // Never GEN_MODULUS, so no token has its upper half all set.
        self.next_gen = (self.next_gen + 1) % GEN_MODULUS;
        self.next_gen
    }

    fn take_serial(&mut self) -> u64 {
        self.next_serial += 1;
        self.next_serial
    }
}

/// One event from the poller, copied out so no borrow is held while dispatching.
pub(crate) struct Readiness {
    pub(crate) token: Token,
    readable: bool,
    writable: bool,
}

impl Readiness {
    pub(crate) fn of(event: &Event) -> Self {
        Readiness {
            token: event.token(),
            readable: event.is_readable() || event.is_read_closed() || event.is_error(),
            writable: event.is_writable() || event.is_write_closed() || event.is_error(),
        }
    }
}

/// The reactor's descriptors: level-triggered readers and writers,
/// edge-triggered sources, and the ready list of woken sources. Each callback
/// is a `C`.
///
/// The table is borrowed only inside these methods, and never while a
/// callback runs: [`dispatch`](Self::dispatch) and
/// [`run_ready`](Self::run_ready) take a callback out of its slot, hand it to
/// the caller's `run`, and put it back only if its slot still holds the same
/// registration (a serial number decides). So a callback may add, remove or
/// replace descriptors, itself included. Callbacks that are removed or
/// replaced are dropped outside the borrow, since their captures may call
/// back in.
///
/// A panic may unwind out of `run` (a reactor built with
/// `catch_panics(false)`). The table is left as if the callback had
/// returned: the callback goes back into its slot, a level-triggered fd is
/// re-armed, and the sources of the ready list that had not run yet stay on
/// it, so each is called on a later pass. Events of a poll that were not
/// dispatched are handed to [`redeliver`](Self::redeliver).
pub(crate) struct FdTable<C> {
    table: RefCell<Table<C>>,
}

impl<C> FdTable<C> {
    pub(crate) fn new() -> Self {
        FdTable {
            table: RefCell::new(Table {
                entries: Slab::new(),
                by_fd: HashMap::new(),
                ready: Vec::new(),
                next_gen: 0,
                next_serial: 0,
            }),
        }
    }

    /// Sets `fd`'s reader or writer (replacing one it has), registering `fd`
    /// with `registry` as needed.
    ///
    /// # Errors
    ///
    /// [`Error::FdInUse`] if `fd` is an edge-triggered source; [`Error::Io`]
    /// if the kernel refuses it, in which case nothing is left registered.
    pub(crate) fn add_level(
        &self,
        registry: &Registry,
        fd: RawFd,
        role: Role,
        callback: C,
    ) -> Result<()> {
        let mut table = self.table.borrow_mut();
        let (result, dropped) = Self::insert_level(&mut table, registry, fd, role, callback);
        drop(table);
        drop(dropped); // outside the borrow: their captures may call back in
        result
    }

    /// [`add_level`](Self::add_level) within the borrow; also hands back
    /// the callbacks to drop once the borrow ends (the one replaced, or
    /// the new one if refused).
    fn insert_level(
        table: &mut Table<C>,
        registry: &Registry,
        fd: RawFd,
        role: Role,
        callback: C,
    ) -> (Result<()>, [Option<C>; 2]) {
        let key = match table.by_fd.get(&fd) {
            Some(&key) => key,
            None => {
                if let Err(e) = token_key(fd, table.entries.vacant_key()) {
                    return (Err(e), [Some(callback), None]);
                }
                let gen = table.take_gen();
                let key = table.entries.insert(FdEntry {
                    fd,
                    gen,
                    kind: Kind::Level,
                    reader: None,
                    writer: None,
                    queued: false,
                    registered: None,
                });
                table.by_fd.insert(fd, key);
                key
            }
        };
        let serial = table.take_serial();
        let Some(entry) = table.entries.get_mut(key) else {
            return (Err(Error::UnknownFd(fd)), [Some(callback), None]);
        };
        if entry.kind != Kind::Level {
            return (Err(Error::FdInUse(fd)), [Some(callback), None]);
        }
        let slot = Slot {
            serial,
            callback: Some(callback),
        };
        let old = entry.slot_mut(role).replace(slot).and_then(|s| s.callback);
        let result = sync_interest(registry, entry, key);
        let mut refused = None;
        if result.is_err() {
            // Undo, so a refused fd leaves nothing half-registered.
            refused = entry.slot_mut(role).take().and_then(|s| s.callback);
            if entry.wanted().is_none() {
                table.entries.remove(key);
                table.by_fd.remove(&fd);
            }
        }
        (result, [old, refused])
    }

    /// Removes `fd`'s reader or writer; `false` if it had none.
    pub(crate) fn remove_level(&self, registry: &Registry, fd: RawFd, role: Role) -> bool {
        let mut table = self.table.borrow_mut();
        let Some(&key) = table.by_fd.get(&fd) else {
            return false;
        };
        let Some(entry) = table.entries.get_mut(key) else {
            return false;
        };
        if entry.kind != Kind::Level {
            return false;
        }
        let old = entry.slot_mut(role).take();
        if old.is_none() {
            return false;
        }
        if let Err(e) = sync_interest(registry, entry, key) {
            log::debug!("fd {fd}: {e}");
        }
        if entry.wanted().is_none() {
            table.entries.remove(key);
            table.by_fd.remove(&fd);
        }
        drop(table);
        drop(old);
        true
    }

    /// Removes every reader and writer, leaving sources alone; returns their
    /// descriptors.
    pub(crate) fn remove_all_levels(&self, registry: &Registry) -> Vec<RawFd> {
        let fds: Vec<RawFd> = self
            .table
            .borrow()
            .entries
            .iter()
            .filter(|(_, e)| e.kind == Kind::Level)
            .map(|(_, e)| e.fd)
            .collect();
        for &fd in &fds {
            self.remove_level(registry, fd, Role::Reader);
            self.remove_level(registry, fd, Role::Writer);
        }
        fds
    }

    /// The descriptors that have a reader, or a writer.
    pub(crate) fn level_fds(&self, role: Role) -> Vec<RawFd> {
        let table = self.table.borrow();
        table
            .entries
            .iter()
            .filter(|(_, e)| {
                e.kind == Kind::Level
                    && match role {
                        Role::Reader => e.reader.is_some(),
                        Role::Writer => e.writer.is_some(),
                    }
            })
            .map(|(_, e)| e.fd)
            .collect()
    }

    /// Adds an edge-triggered source whose callback `make` builds from the
    /// source's id, and registers `fd` with `registry`.
    ///
    /// # Errors
    ///
    /// [`Error::FdInUse`] if `fd` already has a reader, writer or source;
    /// [`Error::Io`] if the kernel refuses it, in which case nothing is kept.
    pub(crate) fn add_source(
        &self,
        registry: &Registry,
        fd: RawFd,
        make: impl FnOnce(SourceId) -> C,
    ) -> Result<SourceId> {
        let mut table = self.table.borrow_mut();
        if table.by_fd.contains_key(&fd) {
            return Err(Error::FdInUse(fd));
        }
        let gen = table.take_gen();
        let serial = table.take_serial();
        let vacant = table.entries.vacant_entry();
        let key = vacant.key();
        let id = SourceId {
            key: token_key(fd, key)?,
            gen,
        };
        vacant.insert(FdEntry {
            fd,
            gen,
            kind: Kind::Edge,
            reader: Some(Slot {
                serial,
                callback: Some(make(id)),
            }),
            writer: None,
            queued: false,
            registered: None,
        });
        table.by_fd.insert(fd, key);
        let result = match table.entries.get_mut(key) {
            Some(entry) => sync_interest(registry, entry, key),
            None => Err(Error::UnknownFd(fd)),
        };
        let undone = if result.is_err() {
            table.by_fd.remove(&fd);
            table.entries.try_remove(key)
        } else {
            None
        };
        drop(table);
        drop(undone);
        result.map(|()| id)
    }

    /// Puts a source on the ready list, unless it is there already or gone.
    pub(crate) fn wake_source(&self, id: SourceId) {
        self.table.borrow_mut().wake(id);
    }

    /// Removes a source and deregisters its fd; `false` if it was gone.
    pub(crate) fn remove_source(&self, registry: &Registry, id: SourceId) -> bool {
        let mut table = self.table.borrow_mut();
        let Some(entry) = table.get_mut(id) else {
            return false;
        };
        let fd = entry.fd;
        if entry.registered.is_some() {
            if let Err(e) = registry.deregister(&mut SourceFd(&fd)) {
                log::debug!("deregister fd {fd}: {e}");
            }
        }
        table.by_fd.remove(&fd);
        let removed = table.entries.try_remove(id.key as usize);
        drop(table);
        drop(removed);
        true
    }

    /// Whether a woken source waits (the next poll must not block).
    pub(crate) fn has_ready(&self) -> bool {
        !self.table.borrow().ready.is_empty()
    }

    /// Calls `run` on the handlers of the sources that were on the ready list
    /// when this was called; those woken meanwhile wait for the next call.
    /// If a handler's panic unwinds out, the sources after it go back to the
    /// front of the ready list, still marked as on it.
    pub(crate) fn run_ready(&self, mut run: impl FnMut(&mut C)) {
        let ready = std::mem::take(&mut self.table.borrow_mut().ready);
        for id in Batch::new(ready, |rest| self.requeue_front(rest)) {
            {
                let mut table = self.table.borrow_mut();
                match table.get_mut(id) {
                    Some(entry) => entry.queued = false,
                    None => continue,
                }
            }
            self.call_slot(id, Role::Reader, &mut run);
        }
    }

    /// Puts back, in front of the ready list, sources that were taken off
    /// it but not run; those removed meanwhile are left out.
    fn requeue_front(&self, ids: Vec<SourceId>) {
        let Ok(mut table) = self.table.try_borrow_mut() else {
            log::error!("the fd table is borrowed: {} woken sources lost", ids.len());
            return;
        };
        let mut ready: Vec<SourceId> = ids
            .into_iter()
            .filter(|&id| table.get_mut(id).is_some_and(|entry| entry.queued))
            .collect();
        ready.append(&mut table.ready);
        table.ready = ready;
    }

    /// Makes sure an event from the poll that was never dispatched is not
    /// lost: a source goes on the ready list, a level-triggered fd is
    /// re-armed (so the next poll reports it again if it is still ready).
    /// Tokens that name no fd are ignored.
    pub(crate) fn redeliver(&self, registry: &Registry, readiness: &Readiness) {
        let id = SourceId::of(readiness.token);
        let Ok(mut table) = self.table.try_borrow_mut() else {
            log::error!(
                "the fd table is borrowed: an event for token {} lost",
                id.token().0
            );
            return;
        };
        let kind = match table.get_mut(id) {
            Some(entry) => entry.kind,
            None => return,
        };
        match kind {
            Kind::Edge => table.wake(id),
            Kind::Level => {
                drop(table);
                self.rearm(registry, id);
            }
        }
    }

    /// Calls `run` on the callbacks that one event from the poll is for:
    /// a source's handler, or a reader's and writer's as the event says,
    /// after which their fd is re-armed. Tokens that name no fd (removed
    /// since the poll) are ignored.
    pub(crate) fn dispatch(
        &self,
        registry: &Registry,
        readiness: &Readiness,
        mut run: impl FnMut(&mut C),
    ) {
        let id = SourceId::of(readiness.token);
        let kind = match self.table.borrow_mut().get_mut(id) {
            Some(entry) => entry.kind,
            None => return, // removed since the poll
        };
        match kind {
            Kind::Edge => self.call_slot(id, Role::Reader, &mut run),
            Kind::Level => {
                // Re-armed when this ends, even if a callback's panic unwinds.
                let _rearm = Rearm {
                    table: self,
                    registry,
                    id,
                };
                if readiness.readable {
                    self.call_slot(id, Role::Reader, &mut run);
                }
                if readiness.writable {
                    self.call_slot(id, Role::Writer, &mut run);
                }
            }
        }
    }

    /// Re-arms a level-triggered fd so the kernel reports it again if it is
    /// still ready.
    fn rearm(&self, registry: &Registry, id: SourceId) {
        let Ok(mut table) = self.table.try_borrow_mut() else {
            log::error!(
                "the fd table is borrowed: token {} not re-armed",
                id.token().0
            );
            return;
        };
        let key = id.key as usize;
        if let Some(entry) = table.get_mut(id) {
            // An unchanged interest still goes through EPOLL_CTL_MOD, which re-arms.
            if let Err(e) = sync_interest(registry, entry, key) {
                log::error!("{e}");
            }
        }
    }

    /// Takes a callback out of its slot, calls `run` on it with no borrow
    /// held, and puts it back unless it was removed or replaced meanwhile
    /// (also when a panic unwinds out of `run`).
    fn call_slot(&self, id: SourceId, role: Role, run: &mut impl FnMut(&mut C)) {
        let taken = {
            let mut table = self.table.borrow_mut();
            table
                .get_mut(id)
                .and_then(|entry| match entry.slot_mut(role) {
                    Some(slot) => slot.callback.take().map(|cb| (cb, slot.serial)),
                    None => None,
                })
        };
        let Some((callback, serial)) = taken else {
            return;
        };
        let mut lent = Lent {
            table: self,
            id,
            role,
            serial,
            callback: Some(callback),
        };
        if let Some(callback) = lent.callback.as_mut() {
            run(callback);
        }
    }

    /// Puts a callback back into its slot if the slot still holds the same
    /// registration; otherwise (or if the table is borrowed) hands it back.
    fn put_back(&self, id: SourceId, role: Role, serial: u64, callback: C) -> Option<C> {
        let Ok(mut table) = self.table.try_borrow_mut() else {
            return Some(callback);
        };
        match table
            .get_mut(id)
            .and_then(|entry| entry.slot_mut(role).as_mut())
        {
            Some(slot) if slot.serial == serial && slot.callback.is_none() => {
                slot.callback = Some(callback);
                None
            }
            _ => Some(callback),
        }
    }
}

/// A callback taken out of its slot to be called; dropped, however the
/// call ends, it goes back into its slot (see [`FdTable::put_back`]).
struct Lent<'a, C> {
    table: &'a FdTable<C>,
    id: SourceId,
    role: Role,
    serial: u64,
    callback: Option<C>,
}

impl<C> Drop for Lent<'_, C> {
    fn drop(&mut self) {
        if let Some(callback) = self.callback.take() {
            let leftover = self
                .table
                .put_back(self.id, self.role, self.serial, callback);
            drop(leftover); // outside the borrow: its captures may call back in
        }
    }
}

/// Re-arms a level-triggered fd when dropped: after its callbacks, however
/// they end.
struct Rearm<'a, C> {
    table: &'a FdTable<C>,
    registry: &'a Registry,
    id: SourceId,
}

impl<C> Drop for Rearm<'_, C> {
    fn drop(&mut self) {
        self.table.rearm(self.registry, self.id);
    }
}

/// Makes `registry`'s registration of the entry's fd match its reader and
/// writer.
fn sync_interest<C>(registry: &Registry, entry: &mut FdEntry<C>, key: usize) -> Result<()> {
    let token = entry.id(key).token();
    let fd = entry.fd;
    let wanted = entry.wanted();
    let outcome = match (entry.registered, wanted) {
        (None, Some(interest)) => registry.register(&mut SourceFd(&fd), token, interest),
        (Some(_), Some(interest)) => registry
            .reregister(&mut SourceFd(&fd), token, interest)
            .or_else(|e| {
                if was_closed_behind_our_back(&e) {
                    registry.register(&mut SourceFd(&fd), token, interest)
                } else {
                    Err(e)
                }
            }),
        (Some(_), None) => registry.deregister(&mut SourceFd(&fd)).or(Ok(())),
        (None, None) => Ok(()),
    };
    match outcome {
        Ok(()) => {
            entry.registered = wanted;
            Ok(())
        }
        Err(e) => Err(Error::io(format!("register fd {fd} with the poller"), e)),
    }
}

/// Whether re-registering an fd failed because the poller no longer has it
/// (`ENOENT`, which std reads as `NotFound`): the fd was closed, which
/// removed it from the poll set, and its number was reused behind our back.
fn was_closed_behind_our_back(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_holds_a_key_in_one_half_of_a_usize_and_a_generation_in_the_other() {
        assert_eq!(KEY_BITS * 2, usize::BITS);
        assert_eq!(KEY_MASK.count_ones(), KEY_BITS);
        assert_eq!(GEN_MODULUS as usize, KEY_MASK);
        let top_key = u32::try_from(KEY_MASK).expect("half a usize fits in a u32");
        for key in [0, 1, 2, top_key - 1, top_key] {
            for gen in [0, 1, 2, GEN_MODULUS - 1] {
                let id = SourceId { key, gen };
                assert_eq!(SourceId::of(id.token()), id, "key {key}, generation {gen}");
            }
        }
        // Neighbouring ids have distinct tokens.
        let a = SourceId { key: 1, gen: 2 };
        let b = SourceId { key: 2, gen: 1 };
        assert_ne!(a.token(), b.token());
    }

    #[test]
    fn no_generation_makes_a_token_with_its_upper_half_all_set() {
        let mut table: Table<()> = Table {
            entries: Slab::new(),
            by_fd: HashMap::new(),
            ready: Vec::new(),
            next_gen: GEN_MODULUS - 2,
            next_serial: 0,
        };
        assert_eq!(table.take_gen(), GEN_MODULUS - 1);
        assert_eq!(table.take_gen(), 0);
        // The reactor's own tokens (usize::MAX and just below) decode to the
        // generation no source has.
        for own in [usize::MAX, usize::MAX - 1] {
            assert_eq!(SourceId::of(Token(own)).gen, GEN_MODULUS);
        }
    }

    #[test]
    fn keys_past_the_low_half_are_refused() {
        assert!(token_key(3, 0).is_ok());
        assert!(matches!(token_key(3, KEY_MASK), Ok(k) if k as usize == KEY_MASK));
        match token_key(3, KEY_MASK + 1) {
            Err(Error::Io { context, source }) => {
                assert!(context.contains("fd 3"), "{context}");
                assert!(source.to_string().contains("at most"), "{source}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_closed_fd_is_recognised_by_the_error_kind_of_enoent() {
        // ENOENT as the kernel reports it, whatever its number on this target.
        let enoent =
            std::fs::File::open("/nonexistent/tx0mq/fd-test").expect_err("the path does not exist");
        assert!(enoent.raw_os_error().is_some());
        assert!(was_closed_behind_our_back(&enoent));
        let other = io::Error::from(io::ErrorKind::PermissionDenied);
        assert!(!was_closed_behind_our_back(&other));
    }
}
