//! The Majordomo Protocol (MDP/0.1) as the zguide's chapter 4 examples
//! share it (not an example itself): the protocol's frames and timings
//! (the zguide's `MDP.py`), the `dump` and log lines they print, and the
//! three API halves the programs are written against:
//!
//! - [`mdcliapi`]: the synchronous-style client (`mdcliapi.py`), one request
//!   at a time with a timeout and retries; each `send` returns a Deferred.
//! - [`mdwrkapi`]: the worker (`mdwrkapi.py`), with heartbeats both ways and
//!   reconnection when the broker goes silent.
//! - [`mdcliapi2`]: the asynchronous client over a DEALER (`mdcliapi2.py`).
//!
//! In the zguide these are separate files that each program imports; here
//! they are this module, which every Majordomo example includes with
//! `mod mdp;` (as they all include `pyport`).
//!
//! A message is a `Vec<Vec<u8>>` here (frames that can be kept and resent);
//! the connections' `Multipart` becomes one with [`frames`].
#![allow(dead_code)]

pub mod mdcliapi;
pub mod mdcliapi2;
pub mod mdwrkapi;

use std::time::Duration;

use tx0mq::connections::Frame;

/// A message as the APIs take and give it: its frames.
pub type Message = Vec<Vec<u8>>;

/// The version of MDP/Client implemented: the first frame of a client's
/// request and of the broker's reply.
pub const C_CLIENT: &[u8] = b"MDPC01";
/// The version of MDP/Worker implemented: the frame after the empty
/// delimiter of every worker ↔ broker message.
pub const W_WORKER: &[u8] = b"MDPW01";

/// Worker → broker: ready for `service`.
pub const W_READY: &[u8] = b"\x01";
/// Broker → worker: a request, `[client, "", body...]`.
pub const W_REQUEST: &[u8] = b"\x02";
/// Worker → broker: a reply, `[client, "", body...]`.
pub const W_REPLY: &[u8] = b"\x03";
/// Either way: still alive.
pub const W_HEARTBEAT: &[u8] = b"\x04";
/// Either way: this session is over.
pub const W_DISCONNECT: &[u8] = b"\x05";

/// A command's name, for logs (`MDP.commands`).
pub fn command_name(command: &[u8]) -> &'static str {
    match command {
        W_READY => "READY",
        W_REQUEST => "REQUEST",
        W_REPLY => "REPLY",
        W_HEARTBEAT => "HEARTBEAT",
        W_DISCONNECT => "DISCONNECT",
        _ => "(unknown)",
    }
}

/// Silent heartbeat intervals before a peer is taken for dead (3-5 is
/// reasonable).
pub const HEARTBEAT_LIVENESS: u32 = 3;
/// How often each side sends a heartbeat, and how long a worker waits for
/// anything before counting one missed heartbeat.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(2500);
/// How long the broker keeps a silent worker.
pub const HEARTBEAT_EXPIRY: Duration = Duration::from_millis(2500 * HEARTBEAT_LIVENESS as u64);
/// How long a worker waits before reconnecting to a silent broker.
pub const RECONNECT_DELAY: Duration = Duration::from_millis(2500);
/// How long the client waits for a reply, each try.
pub const REQUEST_TIMEOUT: Duration = Duration::from_millis(2500);
/// How many times the client sends a request before it gives up.
pub const REQUEST_RETRIES: u32 = 3;
/// The prefix of the broker's internal services (8/MMI).
pub const INTERNAL_SERVICE_PREFIX: &[u8] = b"mmi.";

/// A received message's frames as a [`Message`].
pub fn frames(parts: &[Frame]) -> Message {
    parts.iter().map(|frame| frame.to_vec()).collect()
}

/// The zguide's `zhelpers.dump`: a rule, then each frame as `[size] text`,
/// or `[size] 0x<hex>` when it is not printable ASCII.
pub fn dump<T: std::ops::Deref<Target = [u8]>>(message: &[T]) {
    println!("----------------------------------------");
    for part in message {
        let part: &[u8] = part;
        if part.iter().all(|b| (0x20..0x7f).contains(b)) {
            println!("[{:03}] {}", part.len(), String::from_utf8_lossy(part));
        } else {
            let hex: String = part.iter().map(|b| format!("{b:02x}")).collect();
            println!("[{:03}] 0x{hex}", part.len());
        }
    }
}

#[allow(unused_imports)] // not every program including this module logs
pub use crate::pyport::log;

/// The address a peer connects to for an endpoint bound on every interface:
/// `tcp://*:5555` is reached at `tcp://localhost:5555`; other endpoints are
/// reached as they are written.
pub fn connect_address(bound: &str) -> String {
    match bound.strip_prefix("tcp://*:") {
        Some(port) => format!("tcp://localhost:{port}"),
        None => bound.to_string(),
    }
}
