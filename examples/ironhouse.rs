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

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tx0mq::connections::security::{load_certificate, Authenticator, CurveKey};
use tx0mq::connections::{
    ZmqEndpoint, ZmqFactory, ZmqOptions, ZmqPullConnection, ZmqPushConnection,
};
use tx0mq::Reactor;

mod pyport;
use pyport::{first, require_curve, KeyDirs, Logging};

fn run(args: Args) -> Result<(), Box<dyn Error>> {
    require_curve()?;
    let logging = Logging {
        verbose: args.verbose,
    };

    // generate_certificates makes these.
    let dirs = KeyDirs::new(&args.base_dir);
    if !dirs.exist() {
        logging.critical("Certificates are missing - run generate_certificates.py script first");
        return Err(format!(
            "no certificates/, public_keys/ and private_keys/ in {}",
            args.base_dir.display()
        )
        .into());
    }

    let reactor = Reactor::new()?;
    let factory = ZmqFactory::new(&reactor)?;
    factory.register_for_shutdown();

    // The ZAP handler for this factory's sockets.
    let auth = Authenticator::new(&factory);
    auth.start()?;
    auth.allow(["127.0.0.1"]);
    // Only the keys of the public certificates in public_keys/ get in.
    auth.configure_curve("*", &dirs.public_keys)?;

    let server_secret_file = dirs.secret_keys.join("server.key_secret");
    let (server_public, server_secret) = load_key_pair(&server_secret_file)?;
    let server = ZmqPushConnection::with_options(
        &factory,
        ZmqEndpoint::bind(args.bind),
        &ZmqOptions::new()
            .curve_secretkey(server_secret)
            .curve_publickey(server_public)
            .curve_server_flag(true),
    )?;

    // The client has its own key pair, and needs the server's public key
    // to know whom it talks to.
    let client_secret_file = dirs.secret_keys.join("client.key_secret");
    let (client_public, client_secret) = load_key_pair(&client_secret_file)?;

    let server_public_file = dirs.public_keys.join("server.key");
    let (server_public, _) = load_certificate(server_public_file)?;

    let client = ZmqPullConnection::with_options(
        &factory,
        ZmqEndpoint::connect(args.connect),
        &ZmqOptions::new()
            .curve_secretkey(client_secret)
            .curve_publickey(client_public)
            .curve_serverkey(server_public),
    )?;

    server.push("Hello")?;

    let too_late = reactor.call_later(args.timeout, move |cx| {
        logging.error("Ironhouse test FAIL");
        cx.reactor.stop()
    });
    client.on_pull(move |cx, message| {
        let _ = too_late.cancel();
        if first(&message) == b"Hello" {
            logging.info("Ironhouse test OK");
        }
        cx.reactor.stop()
    });

    reactor.run()?;

    auth.stop();
    Ok(())
}

/// The public and secret key of a secret certificate.
fn load_key_pair(path: &Path) -> Result<(CurveKey, CurveKey), Box<dyn Error>> {
    match load_certificate(path)? {
        (public, Some(secret)) => Ok((public, secret)),
        (_, None) => Err(format!("{} holds no secret key", path.display()).into()),
    }
}

/// CURVE: the server is authenticated, and the clients by their keys
/// (pyzmq's ironhouse.py).
#[derive(Parser)]
struct Args {
    /// Directory holding certificates/, public_keys/ and private_keys/
    /// (made by generate_certificates)
    #[arg(long, value_name = "DIR", default_value = ".")]
    base_dir: PathBuf,
    /// Endpoint the server binds
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://*:9000")]
    bind: String,
    /// Endpoint the client connects to (from 127.0.0.1, the address the
    /// authenticator allows)
    #[arg(long, value_name = "ENDPOINT", default_value = "tcp://127.0.0.1:9000")]
    connect: String,
    /// How long the client waits for the message, in milliseconds
    #[arg(long = "timeout-ms", value_name = "MS", default_value = "1000", value_parser = pyport::millis)]
    timeout: Duration,
    /// The original's -v (debug logging): this port has no debug lines;
    /// RUST_LOG=debug shows the authenticator's decisions
    #[arg(short)]
    verbose: bool,
}

fn main() -> ExitCode {
    pyport::main(run)
}
