//! Counting the allocations a test's own thread makes, for tests that
//! assert a path allocates nothing per message (a deterministic check,
//! where a timing would be noise).
//!
//! The allocator has to be declared in the test binary itself; then
//! [`allocations`] before and after the code under test:
//!
//! ```
//! use tx0mq_test_support::alloc::{allocations, Counting};
//!
//! #[global_allocator]
//! static ALLOCATOR: Counting = Counting;
//!
//! fn main() {
//!     let before = allocations();
//!     let boxed = Box::new(7);
//!     assert_eq!(allocations() - before, 1);
//!     let on_the_stack = [7u8; 64];
//!     assert_eq!(allocations() - before, 1);
//!     drop((boxed, on_the_stack));
//! }
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The system allocator, counting each allocation made on the calling
/// thread (other threads' allocations are theirs, and not counted here).
#[derive(Debug)]
pub struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is passed to the system allocator unchanged; the
// counter is a thread-local `Cell` touched by no other code.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// How many allocations this thread has made so far, with [`Counting`]
/// as the binary's global allocator (0 forever without it).
pub fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}
