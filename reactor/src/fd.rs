//! File descriptors in the loop: Twisted's `IReactorFDSet` (`add_reader`,
//! `add_writer`, ...) with level-triggered semantics, and edge-triggered
//! [`SourceId`] sources for integrations such as ZeroMQ's `ZMQ_FD`.
//!
//! mio registers every descriptor edge-triggered. Readers and writers get
//! Twisted's level-triggered behaviour back by re-arming the descriptor
//! (`EPOLL_CTL_MOD`) after each callback: if it is still readable (the
//! callback read only part of what was there) the kernel reports it again on
//! the next poll. Sources are not re-armed; their handler must consume the
//! readiness, or [`Reactor::wake_source`] itself to be called on the next pass.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, RawFd};

use mio::event::Event;
use mio::unix::SourceFd;
use mio::{Interest, Token};
use slab::Slab;

use crate::callback::CallbackResult;
use crate::error::{Error, Result};
use crate::reactor::{Ctx, Reactor};

type FdCallback<S> = Box<dyn FnMut(&mut Ctx<'_, S>)>;

/// Identifies an edge-triggered source added with [`Reactor::add_source`].
///
/// It carries a generation, so a stale id can never reach a later source
/// that reuses the same slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SourceId {
    key: u32,
    gen: u32,
}

impl SourceId {
    fn token(self) -> Token {
        Token(((self.gen as usize) << 32) | self.key as usize)
    }

    fn of(token: Token) -> Self {
        SourceId {
            key: (token.0 & 0xffff_ffff) as u32,
            gen: (token.0 >> 32) as u32,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `add_reader` / `add_writer`: re-armed after each callback.
    Level,
    /// `add_source`: called on edges and wakes only.
    Edge,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Reader,
    Writer,
}

struct Slot<S: 'static> {
    serial: u64,
    callback: Option<FdCallback<S>>,
}

struct FdEntry<S: 'static> {
    fd: RawFd,
    gen: u32,
    kind: Kind,
    reader: Option<Slot<S>>,
    writer: Option<Slot<S>>,
    /// On the ready list already.
    queued: bool,
    /// The interest mio has for this fd now, if registered.
    registered: Option<Interest>,
}

impl<S: 'static> FdEntry<S> {
    fn slot_mut(&mut self, role: Role) -> &mut Option<Slot<S>> {
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

    fn id(&self, key: usize) -> SourceId {
        SourceId {
            key: key as u32,
            gen: self.gen,
        }
    }
}

/// The reactor's table of descriptors and its ready list.
pub(crate) struct FdTable<S: 'static> {
    entries: Slab<FdEntry<S>>,
    by_fd: HashMap<RawFd, usize>,
    ready: Vec<SourceId>,
    next_gen: u32,
    next_serial: u64,
}

impl<S: 'static> FdTable<S> {
    pub(crate) fn new() -> Self {
        FdTable {
            entries: Slab::new(),
            by_fd: HashMap::new(),
            ready: Vec::new(),
            next_gen: 0,
            next_serial: 0,
        }
    }

    fn get_mut(&mut self, id: SourceId) -> Option<&mut FdEntry<S>> {
        self.entries
            .get_mut(id.key as usize)
            .filter(|entry| entry.gen == id.gen)
    }

    fn take_gen(&mut self) -> u32 {
        // Never u32::MAX, so no token can equal the waker's or the signals'.
        self.next_gen = (self.next_gen + 1) % u32::MAX;
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

impl<S: 'static> Reactor<S> {
    /// Calls `f` whenever `fd` is readable, until
    /// [`remove_reader`](Self::remove_reader) (Twisted's `addReader`).
    /// Level-triggered: if `f` leaves data unread, it is called again on the
    /// next pass. Adding a reader for an fd that has one replaces it.
    ///
    /// The reactor does not own `fd`: remove the reader before closing it.
    ///
    /// # Errors
    ///
    /// [`Error::FdInUse`] if `fd` is registered as an edge-triggered source;
    /// [`Error::Io`] if the kernel refuses it (a regular file, say).
    pub fn add_reader<F, R>(&self, fd: impl AsRawFd, mut f: F) -> Result<()>
    where
        F: FnMut(&mut Ctx<'_, S>) -> R + 'static,
        R: CallbackResult,
    {
        self.add_level(
            fd.as_raw_fd(),
            Role::Reader,
            Box::new(move |cx| f(cx).report("reader")),
        )
    }

    /// Calls `f` whenever `fd` is writable, until
    /// [`remove_writer`](Self::remove_writer) (Twisted's `addWriter`).
    /// Level-triggered, so a writer on a writable fd is called on every pass:
    /// remove it when there is nothing left to write.
    ///
    /// # Errors
    ///
    /// As for [`add_reader`](Self::add_reader).
    pub fn add_writer<F, R>(&self, fd: impl AsRawFd, mut f: F) -> Result<()>
    where
        F: FnMut(&mut Ctx<'_, S>) -> R + 'static,
        R: CallbackResult,
    {
        self.add_level(
            fd.as_raw_fd(),
            Role::Writer,
            Box::new(move |cx| f(cx).report("writer")),
        )
    }

    /// Stops reading `fd`. Returns `false` if it had no reader. Safe to call
    /// from inside the reader itself.
    pub fn remove_reader(&self, fd: impl AsRawFd) -> bool {
        self.remove_level(fd.as_raw_fd(), Role::Reader)
    }

    /// Stops writing `fd`. Returns `false` if it had no writer. Safe to call
    /// from inside the writer itself.
    pub fn remove_writer(&self, fd: impl AsRawFd) -> bool {
        self.remove_level(fd.as_raw_fd(), Role::Writer)
    }

    /// Removes every reader and writer and returns their descriptors (Twisted's
    /// `removeAll`). Edge-triggered sources (ZeroMQ connections) are left alone:
    /// they belong to the layer that added them.
    pub fn remove_all(&self) -> Vec<RawFd> {
        let fds: Vec<RawFd> = {
            let table = self.inner.fds.borrow();
            table
                .entries
                .iter()
                .filter(|(_, e)| e.kind == Kind::Level)
                .map(|(_, e)| e.fd)
                .collect()
        };
        for &fd in &fds {
            self.remove_level(fd, Role::Reader);
            self.remove_level(fd, Role::Writer);
        }
        fds
    }

    /// The descriptors that have a reader (Twisted's `getReaders`).
    pub fn get_readers(&self) -> Vec<RawFd> {
        self.level_fds(Role::Reader)
    }

    /// The descriptors that have a writer (Twisted's `getWriters`).
    pub fn get_writers(&self) -> Vec<RawFd> {
        self.level_fds(Role::Writer)
    }

    fn level_fds(&self, role: Role) -> Vec<RawFd> {
        let table = self.inner.fds.borrow();
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

    fn add_level(&self, fd: RawFd, role: Role, callback: FdCallback<S>) -> Result<()> {
        let mut table = self.inner.fds.borrow_mut();
        let serial = table.take_serial();
        let slot = Slot {
            serial,
            callback: Some(callback),
        };
        let key = match table.by_fd.get(&fd) {
            Some(&key) => key,
            None => {
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
        let Some(entry) = table.entries.get_mut(key) else {
            return Err(Error::UnknownFd(fd));
        };
        if entry.kind != Kind::Level {
            return Err(Error::FdInUse(fd));
        }
        let old = entry.slot_mut(role).replace(slot);
        let result = self.sync_interest(entry, key);
        if result.is_err() {
            // Undo, so a refused fd leaves nothing half-registered.
            *entry.slot_mut(role) = None;
            if entry.wanted().is_none() {
                table.entries.remove(key);
                table.by_fd.remove(&fd);
            }
        }
        drop(table);
        drop(old);
        result
    }

    fn remove_level(&self, fd: RawFd, role: Role) -> bool {
        let mut table = self.inner.fds.borrow_mut();
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
        if let Err(e) = self.sync_interest(entry, key) {
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

    /// Makes mio's registration match the entry's reader and writer.
    fn sync_interest(&self, entry: &mut FdEntry<S>, key: usize) -> Result<()> {
        let registry = &self.inner.registry;
        let token = entry.id(key).token();
        let fd = entry.fd;
        let wanted = entry.wanted();
        let outcome = match (entry.registered, wanted) {
            (None, Some(interest)) => registry.register(&mut SourceFd(&fd), token, interest),
            (Some(_), Some(interest)) => registry
                .reregister(&mut SourceFd(&fd), token, interest)
                .or_else(|e| {
                    // The fd was closed and its number reused behind our back.
                    if e.raw_os_error() == Some(libc_enoent()) {
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

    /// Adds an edge-triggered source: `handler` is called when the kernel
    /// signals `fd` readable, and on the pass after each
    /// [`wake_source`](Self::wake_source). It gets its own [`SourceId`].
    ///
    /// This is the building block for descriptors that signal "something
    /// changed" rather than "data is waiting", such as ZeroMQ's `ZMQ_FD`: the
    /// handler checks the real state, does a bounded amount of work, and wakes
    /// itself if work remains. A woken source makes the next poll non-blocking,
    /// so no wake-up is ever lost.
    ///
    /// # Errors
    ///
    /// [`Error::FdInUse`] if `fd` already has a reader, writer or source;
    /// [`Error::Io`] if the kernel refuses it.
    pub fn add_source<F>(&self, fd: impl AsRawFd, mut handler: F) -> Result<SourceId>
    where
        F: FnMut(&mut Ctx<'_, S>, SourceId) + 'static,
    {
        let fd = fd.as_raw_fd();
        let mut table = self.inner.fds.borrow_mut();
        if table.by_fd.contains_key(&fd) {
            return Err(Error::FdInUse(fd));
        }
        let gen = table.take_gen();
        let serial = table.take_serial();
        let vacant = table.entries.vacant_entry();
        let key = vacant.key();
        let id = SourceId {
            key: key as u32,
            gen,
        };
        let callback: FdCallback<S> = Box::new(move |cx| handler(cx, id));
        vacant.insert(FdEntry {
            fd,
            gen,
            kind: Kind::Edge,
            reader: Some(Slot {
                serial,
                callback: Some(callback),
            }),
            writer: None,
            queued: false,
            registered: None,
        });
        table.by_fd.insert(fd, key);
        let result = match table.entries.get_mut(key) {
            Some(entry) => self.sync_interest(entry, key),
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

    /// Puts a source on the ready list: its handler runs early in the next
    /// pass, and the poll before that pass does not block. Waking a source
    /// that is already on the list, or that was removed, does nothing.
    pub fn wake_source(&self, id: SourceId) {
        let mut table = self.inner.fds.borrow_mut();
        if let Some(entry) = table.get_mut(id) {
            if !entry.queued {
                entry.queued = true;
                table.ready.push(id);
            }
        }
    }

    /// Removes a source and deregisters its fd (call this before closing
    /// the fd). Returns `false` if it was already gone. Safe to call from
    /// inside the source's own handler.
    pub fn remove_source(&self, id: SourceId) -> bool {
        let mut table = self.inner.fds.borrow_mut();
        let Some(entry) = table.get_mut(id) else {
            return false;
        };
        let fd = entry.fd;
        if entry.registered.is_some() {
            if let Err(e) = self.inner.registry.deregister(&mut SourceFd(&fd)) {
                log::debug!("deregister fd {fd}: {e}");
            }
        }
        table.by_fd.remove(&fd);
        let removed = table.entries.try_remove(id.key as usize);
        drop(table);
        drop(removed);
        true
    }

    pub(crate) fn fds_have_ready(&self) -> bool {
        !self.inner.fds.borrow().ready.is_empty()
    }

    /// Runs the handlers of the sources that were on the ready list when
    /// this was called; those woken meanwhile wait for the next pass.
    pub(crate) fn run_ready(&self) {
        let ready = std::mem::take(&mut self.inner.fds.borrow_mut().ready);
        for id in ready {
            {
                let mut table = self.inner.fds.borrow_mut();
                match table.get_mut(id) {
                    Some(entry) => entry.queued = false,
                    None => continue,
                }
            }
            self.call_slot(id, Role::Reader);
        }
    }

    pub(crate) fn dispatch_fd(&self, readiness: Readiness) {
        let id = SourceId::of(readiness.token);
        let kind = match self.inner.fds.borrow_mut().get_mut(id) {
            Some(entry) => entry.kind,
            None => return, // removed since the poll
        };
        match kind {
            Kind::Edge => self.call_slot(id, Role::Reader),
            Kind::Level => {
                if readiness.readable {
                    self.call_slot(id, Role::Reader);
                }
                if readiness.writable {
                    self.call_slot(id, Role::Writer);
                }
                self.rearm(id);
            }
        }
    }

    /// Re-arms a level-triggered fd so the kernel reports it again if it is
    /// still ready.
    fn rearm(&self, id: SourceId) {
        let mut table = self.inner.fds.borrow_mut();
        let key = id.key as usize;
        if let Some(entry) = table.get_mut(id) {
            // An unchanged interest still goes through EPOLL_CTL_MOD, which re-arms.
            if let Err(e) = self.sync_interest(entry, key) {
                log::error!("{e}");
            }
        }
    }

    /// Takes a callback out of its slot, calls it with no borrow held, and
    /// puts it back unless it was removed or replaced meanwhile.
    fn call_slot(&self, id: SourceId, role: Role) {
        let taken = {
            let mut table = self.inner.fds.borrow_mut();
            table
                .get_mut(id)
                .and_then(|entry| match entry.slot_mut(role) {
                    Some(slot) => slot.callback.take().map(|cb| (cb, slot.serial)),
                    None => None,
                })
        };
        let Some((mut callback, serial)) = taken else {
            return;
        };
        self.invoke(|cx| callback(cx));
        let leftover = {
            let mut table = self.inner.fds.borrow_mut();
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
        };
        drop(leftover);
    }
}

const fn libc_enoent() -> i32 {
    2
}
