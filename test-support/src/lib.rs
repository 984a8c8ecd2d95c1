//! What tx0mq's tests share (a development-only crate, never published):
//!
//! - [`process`]: a child process (an example, a Python script) with its
//!   output captured line by line, waits with deadlines, killed on drop;
//! - [`curve`]: whether the linked libzmq has CURVE, honouring
//!   `TX0MQ_REQUIRE_CURVE`;
//! - [`python`]: the Python interop environment, honouring
//!   `TX0MQ_REQUIRE_INTEROP`;
//! - [`log`]: capturing `log` records to assert on them;
//! - [`net`]: free ports, unique `ipc://` and `inproc://` endpoints;
//! - [`reactor`]: reactors that re-raise panics from callbacks, and running
//!   them with a deadline;
//! - [`deferred`]: reading a Deferred's outcome;
//! - [`limits`]: raising the open-file limit for tests with thousands of sockets;
//! - [`alloc`]: counting a thread's allocations, for tests of paths that
//!   must not allocate per message.
//!
//! `docs/TESTING.md` says when to use which.

#![deny(missing_docs)]

pub mod alloc;
pub mod curve;
pub mod deferred;
pub mod limits;
pub mod log;
pub mod net;
pub mod process;
pub mod python;
pub mod reactor;

/// An anonymous pipe, `(reader, writer)`, both blocking, as
/// `std::io::pipe` gives on Rust 1.87 and later (the crates support older
/// compilers).
#[allow(unsafe_code)]
pub fn pipe() -> std::io::Result<(std::fs::File, std::fs::File)> {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two new descriptors into the array we own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and nothing else owns them.
    let (reader, writer) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    Ok((reader.into(), writer.into()))
}
