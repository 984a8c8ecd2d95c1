//! What the zguide's Pirate examples share (not an example itself): the
//! Simple Pirate's ready signal, the Paranoid Pirate Protocol's frames and
//! timings, and the workers' printable random identities.
//!
//! `spqueue`/`spworker` and `ppqueue`/`ppworker` include it with
//! `mod pirates;`; each uses only part of it.
#![allow(dead_code)]

use std::time::Duration;

use crate::pyport::Random;

/// Simple Pirate: the frame a worker sends when it is ready (the
/// load-balancing pattern's `LRU_READY`).
pub const LRU_READY: &[u8] = b"\x01";

/// Paranoid Pirate Protocol: a worker is ready.
pub const PPP_READY: &[u8] = b"\x01";
/// Paranoid Pirate Protocol: a heartbeat, either way.
pub const PPP_HEARTBEAT: &[u8] = b"\x02";

/// Heartbeats missed before a peer is taken for dead (3..5 is reasonable).
pub const HEARTBEAT_LIVENESS: u32 = 3;
/// How often each side sends a heartbeat, and how long a poll waits.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);
/// A worker's first wait before reconnecting to a silent queue...
pub const INTERVAL_INIT: Duration = Duration::from_secs(1);
/// ...doubled after each failure, up to this.
pub const INTERVAL_MAX: Duration = Duration::from_secs(32);

/// A worker's identity, `"%04X-%04X" % (randint(0, 0x10000), randint(0,
/// 0x10000))`: two random numbers in upper-case hex (`0x10000` itself is
/// drawn now and then, and printed as `10000`, as in the original).
pub fn worker_identity(random: &mut Random) -> String {
    let high = random.randint(0, 0x10000);
    let low = random.randint(0, 0x10000);
    format!("{high:04X}-{low:04X}")
}
