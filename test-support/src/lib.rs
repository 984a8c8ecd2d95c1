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
//! - [`limits`]: raising the open-file limit for tests with thousands of sockets.
//!
//! `docs/TESTING.md` says when to use which.

#![deny(missing_docs)]

pub mod curve;
pub mod deferred;
pub mod limits;
pub mod log;
pub mod net;
pub mod process;
pub mod python;
pub mod reactor;
