//! A list of callbacks, each added under a key (a system event and phase, a
//! signal number), called in the order they were added.
//!
//! The list is borrowed only inside these methods: [`call`](Keyed::call)
//! lends a callback out with no borrow held, so a callback may add or remove
//! callbacks, itself included, and closures are dropped outside the borrow.
//! A callback whose panic unwinds out of `call` is put back all the same.

use std::cell::{Cell, RefCell};

struct Entry<K, F> {
    id: u64,
    key: K,
    /// `None` while it runs.
    f: Option<F>,
}

/// Callbacks of type `F` (the reactor's callback type), each under a `K`.
pub(crate) struct Keyed<K, F> {
    list: RefCell<Vec<Entry<K, F>>>,
    next_id: Cell<u64>,
}

impl<K: Copy + PartialEq, F> Keyed<K, F> {
    pub(crate) fn new() -> Self {
        Keyed {
            list: RefCell::new(Vec::new()),
            next_id: Cell::new(0),
        }
    }

    /// Adds `f` under `key` and returns its id (never 0, never reused).
    pub(crate) fn add(&self, key: K, f: F) -> u64 {
        let id = self.next_id.get() + 1;
        self.next_id.set(id);
        self.list.borrow_mut().push(Entry {
            id,
            key,
            f: Some(f),
        });
        id
    }

    /// Removes a callback and returns the key it was under; `None` if it was
    /// not there. Safe while it runs: it is dropped when it returns.
    pub(crate) fn remove(&self, id: u64) -> Option<K> {
        let removed = {
            let mut list = self.list.borrow_mut();
            let index = list.iter().position(|e| e.id == id)?;
            list.remove(index)
        };
        let key = removed.key;
        drop(removed); // outside the borrow: its captures may call back in
        Some(key)
    }

    /// The ids of the callbacks under `key`, in the order they were added.
    pub(crate) fn ids(&self, key: K) -> Vec<u64> {
        self.list
            .borrow()
            .iter()
            .filter(|e| e.key == key)
            .map(|e| e.id)
            .collect()
    }

    /// Whether any callback is under `key`.
    pub(crate) fn contains(&self, key: K) -> bool {
        self.list.borrow().iter().any(|e| e.key == key)
    }

    /// Every key that has a callback, each once, in the order first added.
    pub(crate) fn keys(&self) -> Vec<K> {
        let mut keys = Vec::new();
        for entry in self.list.borrow().iter() {
            if !keys.contains(&entry.key) {
                keys.push(entry.key);
            }
        }
        keys
    }

    /// Calls `run` on the callback `id`, lent out of the list. Returns
    /// `false`, without calling `run`, if it was removed or is running
    /// already (a callback does not re-enter itself).
    pub(crate) fn call(&self, id: u64, run: impl FnOnce(&mut F)) -> bool {
        let taken = self
            .list
            .borrow_mut()
            .iter_mut()
            .find(|e| e.id == id)
            .and_then(|e| e.f.take());
        let Some(f) = taken else {
            return false;
        };
        // Goes back into the list when dropped, even if a panic unwinds out
        // of `run`.
        let mut lent = Lent {
            list: self,
            id,
            f: Some(f),
        };
        if let Some(f) = lent.f.as_mut() {
            run(f);
        }
        true
    }

    /// Calls `run` on each callback under `key`, in the order they were
    /// added. Callbacks added meanwhile wait for the next time; callbacks
    /// removed meanwhile are skipped.
    pub(crate) fn fire(&self, key: K, mut run: impl FnMut(&mut F)) {
        for id in self.ids(key) {
            self.call(id, &mut run);
        }
    }

    /// Puts a callback back after it ran; hands it back if it was removed
    /// meanwhile (or the list is borrowed).
    fn put_back(&self, id: u64, f: F) -> Option<F> {
        let Ok(mut list) = self.list.try_borrow_mut() else {
            return Some(f);
        };
        match list.iter_mut().find(|e| e.id == id) {
            Some(e) => {
                e.f = Some(f);
                None
            }
            None => Some(f),
        }
    }
}

/// A callback taken out of the list to be called; put back when dropped.
struct Lent<'a, K: Copy + PartialEq, F> {
    list: &'a Keyed<K, F>,
    id: u64,
    f: Option<F>,
}

impl<K: Copy + PartialEq, F> Drop for Lent<'_, K, F> {
    fn drop(&mut self) {
        if let Some(f) = self.f.take() {
            let leftover = self.list.put_back(self.id, f);
            drop(leftover); // outside the borrow: its captures may call back in
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::rc::Rc;

    type Log = Rc<RefCell<Vec<&'static str>>>;

    #[test]
    fn fire_calls_the_key_s_callbacks_in_the_order_added() {
        let log: Log = Rc::default();
        let list: Keyed<u8, &'static str> = Keyed::new();
        list.add(1, "a");
        list.add(2, "other key");
        list.add(1, "b");
        list.fire(1, |name| log.borrow_mut().push(name));
        assert_eq!(*log.borrow(), ["a", "b"]);
        assert_eq!(list.keys(), [1, 2]);
    }

    #[test]
    fn a_removed_callback_is_skipped_and_a_running_one_is_not_re_entered() {
        let list: Keyed<u8, u32> = Keyed::new();
        let first = list.add(1, 10);
        let second = list.add(1, 20);
        let mut seen = Vec::new();
        list.fire(1, |n| {
            seen.push(*n);
            // Removing the one after it, and calling the running one again.
            list.remove(second);
            assert!(!list.call(first, |_| seen_never()));
        });
        assert_eq!(seen, [10]);
        assert_eq!(list.remove(first), Some(1));
        assert_eq!(list.remove(first), None);
        assert!(!list.contains(1));
    }

    fn seen_never() {
        panic!("a running callback was called again");
    }

    #[test]
    fn a_callback_whose_panic_unwinds_is_put_back() {
        let list: Keyed<u8, u32> = Keyed::new();
        let id = list.add(1, 7);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            list.call(id, |_| panic!("boom"));
        }));
        assert!(outcome.is_err());
        let mut got = None;
        assert!(list.call(id, |n| got = Some(*n)));
        assert_eq!(got, Some(7));
    }
}
