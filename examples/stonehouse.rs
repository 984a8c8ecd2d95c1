//! `stonehouse.py`, from pyzmq's security examples (`examples/security/`):
//! the CURVE mechanism. Traffic is encrypted and the server proves who it
//! is with its key pair; clients are not checked beyond their address, so
//! any key may connect. This is the level to start at on a public network.
//!
//! The original needs the certificates `generate_certificates.py` makes
//! (`certificates/`, `public_keys/`, `private_keys/` beside the script;
//! without them it logs `Certificates are missing: run
//! generate_certificates.py script first` and exits 1). It runs pyzmq's
//! `ThreadAuthenticator` (the ZAP handler on a thread of its own) allowing
//! `127.0.0.1` and any CURVE key (`CURVE_ALLOW_ANY`), binds a CURVE server
//! (PUSH) on `tcp://*:9000` with the server's secret certificate, and
//! connects a PULL client from `127.0.0.1` with the client's key pair and
//! the server's public key. The server sends `Hello`; if the client has it
//! within a second, the original logs `Stonehouse test OK`, otherwise
//! `Stonehouse test FAIL`.
//!
//! The port: the authenticator is tx0mq's [`Authenticator`], which answers
//! ZAP requests in the reactor (no thread); the client's `poll(1000)` and
//! `recv()` are its callback, raced by a one-second timer. The certificates
//! are read with tx0mq's `load_certificate` (pyzmq's format; see
//! `generate_certificates`), from under `--base-dir`, by default the
//! current directory. Where the original checks that libzmq is at least 4.0,
//! the port checks that it has CURVE: without it, it exits 1 with the
//! library's `CurveUnavailable` message before anything else. A secret
//! certificate without a secret key is an error (the original would fail
//! setting the option).
//!
//! All of this is what `ironhouse` does too, in `pyport::house::curve_hello`;
//! what is Stonehouse's own is the authenticator's CURVE configuration, in
//! `run`: any client key.
//!
//! ```text
//! cargo run --example generate_certificates
//! cargo run --example stonehouse
//! cargo run --example stonehouse -- --base-dir /tmp/keys --bind tcp://*:9001 \
//!     --connect tcp://127.0.0.1:9001
//! ```
//!
//! Prints `[INFO] Stonehouse test OK`, or `[ERROR] Stonehouse test FAIL`,
//! as the original's `logging` does (see `pyport::Logging`). `-v` is
//! accepted, as in the original (it prints debug lines; this port has none:
//! `RUST_LOG=debug` shows the authenticator's decisions). `--bind` and
//! `--connect` default to the original's endpoints, `--timeout-ms` to its
//! one second.
//!
//! [`Authenticator`]: tx0mq::connections::security::Authenticator

use std::error::Error;
use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::security::CURVE_ALLOW_ANY;

mod pyport;
use pyport::house::{curve_hello, CurveFlags};

fn run(args: Args) -> Result<(), Box<dyn Error>> {
    curve_hello(
        args.flags,
        "Stonehouse",
        "Certificates are missing: run generate_certificates.py script first",
        // Any CURVE key is welcome: only the address is checked.
        |auth, _dirs| auth.configure_curve("*", CURVE_ALLOW_ANY),
    )
}

/// CURVE: the server is authenticated, any client may connect (pyzmq's
/// stonehouse.py).
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    flags: CurveFlags,
}

fn main() -> ExitCode {
    pyport::main(run)
}
