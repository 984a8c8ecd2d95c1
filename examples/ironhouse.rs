//! `ironhouse.py`, from pyzmq's security examples (`examples/security/`):
//! Stonehouse, and on top of it each client must hold a key the server
//! knows (its public certificate is in `public_keys/`). What remains open is
//! the machines at either end: CURVE cannot help if one of them is
//! compromised.
//!
//! The original needs the certificates `generate_certificates.py` makes
//! (`certificates/`, `public_keys/`, `private_keys/` beside the script;
//! without them it logs `Certificates are missing - run
//! generate_certificates.py script first` and exits 1). It runs pyzmq's
//! `ThreadAuthenticator` (the ZAP handler on a thread of its own) allowing
//! `127.0.0.1` and the CURVE keys of the public certificates in
//! `public_keys/`, binds a CURVE server (PUSH) on `tcp://*:9000` with the
//! server's secret certificate, and connects a PULL client from `127.0.0.1`
//! with the client's key pair and the server's public key. The server sends
//! `Hello`; if the client has it within a second, the original logs
//! `Ironhouse test OK`, otherwise `Ironhouse test FAIL`.
//!
//! The port: the authenticator is tx0mq's [`Authenticator`], which answers
//! ZAP requests in the reactor (no thread) and reads the public keys with
//! tx0mq's `load_certificates`; the client's `poll(1000)` and `recv()` are
//! its callback, raced by a one-second timer. The certificates are read with
//! tx0mq's `load_certificate` (pyzmq's format; see `generate_certificates`),
//! from under `--base-dir`, by default the current directory. Where the
//! original checks that libzmq is at least 4.0, the port checks that it has
//! CURVE: without it, it exits 1 with the library's `CurveUnavailable`
//! message before anything else. A secret certificate without a secret key
//! is an error (the original would fail setting the option).
//!
//! All of this is what `stonehouse` does too, in `pyport::house::curve_hello`;
//! what is Ironhouse's own is the authenticator's CURVE configuration, in
//! `run`: the keys in `public_keys/`.
//!
//! ```text
//! cargo run --example generate_certificates
//! cargo run --example ironhouse
//! cargo run --example ironhouse -- --base-dir /tmp/keys --bind tcp://*:9001 \
//!     --connect tcp://127.0.0.1:9001
//! ```
//!
//! Prints `[INFO] Ironhouse test OK`, or `[ERROR] Ironhouse test FAIL`, as
//! the original's `logging` does (see `pyport::Logging`). `-v` is accepted,
//! as in the original (it prints debug lines; this port has none:
//! `RUST_LOG=debug` shows the authenticator's decisions). `--bind` and
//! `--connect` default to the original's endpoints, `--timeout-ms` to its
//! one second.
//!
//! [`Authenticator`]: tx0mq::connections::security::Authenticator

use std::error::Error;
use std::process::ExitCode;

use clap::Parser;

mod pyport;
use pyport::house::{curve_hello, CurveFlags};

fn run(args: Args) -> Result<(), Box<dyn Error>> {
    curve_hello(
        args.flags,
        "Ironhouse",
        "Certificates are missing - run generate_certificates.py script first",
        // Only the keys of the public certificates in public_keys/ get in.
        |auth, dirs| auth.configure_curve("*", &dirs.public_keys),
    )
}

/// CURVE: the server is authenticated, and the clients by their keys
/// (pyzmq's ironhouse.py).
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    flags: CurveFlags,
}

fn main() -> ExitCode {
    pyport::main(run)
}
