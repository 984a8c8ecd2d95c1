//! `version.py`, the zguide's version reporter (chapter 1, "Version
//! Reporting"): prints the version of the libzmq it runs on and of pyzmq,
//! the Python binding.
//!
//! The port: the second line gives the version of the Rust binding this
//! program runs on, tx0mq, where the original names pyzmq.
//!
//! ```text
//! cargo run --example version
//! ```
//!
//! Prints `Current libzmq version is 4.3.4` (the libzmq this program is
//! linked with) and `Current  tx0mq version is 0.1.0`, then a line the
//! original does not have: whether that libzmq has CURVE security,
//! `CURVE security is available` or `CURVE security is not available
//! (libzmq built without libsodium; see the README's Security section)`.
//! The default build's libzmq has no CURVE; the CURVE build does:
//!
//! ```text
//! cargo run --config .cargo/system-libzmq.toml --example version
//! ```

use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::security::curve_available;
use tx0mq::connections::zmq;

mod pyport;

fn run(_: Args) -> Result<(), Box<dyn std::error::Error>> {
    let (major, minor, patch) = zmq::version();
    println!("Current libzmq version is {major}.{minor}.{patch}");
    println!("Current  tx0mq version is {}", env!("CARGO_PKG_VERSION"));
    if curve_available() {
        println!("CURVE security is available");
    } else {
        println!(
            "CURVE security is not available \
             (libzmq built without libsodium; see the README's Security section)"
        );
    }
    Ok(())
}

/// Reports the libzmq and tx0mq versions (zguide's version.py), and
/// whether libzmq has CURVE.
#[derive(Parser)]
struct Args {}

fn main() -> ExitCode {
    pyport::main(run)
}
