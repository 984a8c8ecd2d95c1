//! Reports the ZeroMQ library version. Port of the zguide's `version.py`
//! (chapter 1).
//!
//! ```text
//! cargo run --example version
//! ```
//!
//! Prints `Current libzmq version is 4.3.4` (the libzmq this program is
//! linked with) and `Current  tx0mq version is 0.1.0`: the original's second
//! line gives the version of the Python binding, pyzmq, so this one gives the
//! version of the Rust binding it runs on, tx0mq.

use std::process::ExitCode;

use tx0mq::connections::zmq;

mod pyport;
use pyport::Flags;

const USAGE: &str = "usage: version";

fn main() -> ExitCode {
    env_logger::init();
    Flags::parse("version", USAGE, &[], 0);
    let (major, minor, patch) = zmq::version();
    println!("Current libzmq version is {major}.{minor}.{patch}");
    println!("Current  tx0mq version is {}", env!("CARGO_PKG_VERSION"));
    ExitCode::SUCCESS
}
