//! The txZMQ demos' protocols, unit-tested on the connections' test kit.
//!
//! Each demo keeps its tests beside its code (`mod tests` at the end of
//! `examples/pub_sub.rs`, `push_pull.rs`, `req_rep.rs`), as a Twisted
//! project keeps a protocol's tests near it. Cargo builds an example either
//! as a program or as a test harness, not both, and the process tests run
//! the programs; so the example files are compiled here a second time, as
//! modules, and their tests run in this binary. Each brings its own copy
//! of the examples' shared `pyport` helpers, as each example program does.
#![allow(clippy::duplicate_mod)]

#[allow(dead_code)]
#[path = "../examples/pub_sub.rs"]
mod pub_sub;

#[allow(dead_code)]
#[path = "../examples/push_pull.rs"]
mod push_pull;

#[allow(dead_code)]
#[path = "../examples/req_rep.rs"]
mod req_rep;
