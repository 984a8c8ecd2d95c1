//! `generate_certificates.py`, from pyzmq's security examples
//! (`examples/security/`): creates the CURVE certificates that `stonehouse`
//! and `ironhouse` (and their ioloop and asyncio versions) use, one for a
//! server and one for a client. It empties (or creates) three directories,
//! `certificates/`, `public_keys/` and `private_keys/`, creates
//! `server.key`/`server.key_secret` and `client.key`/`client.key_secret` in
//! `certificates/` with `zmq.auth.create_certificates`, then moves every
//! public certificate (`*.key`) to `public_keys/` and every secret one
//! (`*.key_secret`) to `private_keys/`. It prints nothing. (A real
//! deployment hands keys out by other means; the examples just need some.)
//!
//! The port: the certificates are written by tx0mq's `create_certificates`,
//! in the same file format, so pyzmq's examples can use them too. The secret
//! ones get mode 0600: tx0mq refuses to load a secret certificate that
//! others can read, which pyzmq's are under the usual umask until `chmod
//! 600`. The directories
//! go under `--base-dir`, by default the current directory (the original
//! uses the directory holding the script, which a compiled program does not
//! have). Where the original checks that libzmq is at least 4.0 (security
//! needs it), the port checks that it has CURVE, before removing anything:
//! without it, it exits 1 with the library's `CurveUnavailable` message.
//!
//! ```text
//! cargo run --example generate_certificates                  # in .
//! cargo run --example generate_certificates -- --base-dir /tmp/keys
//! ```

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use tx0mq::connections::security::create_certificates;

mod pyport;
use pyport::house::{require_curve, KeyDirs};

/// The server's and the client's certificates, sorted into the three
/// directories under `base_dir`.
fn generate_certificates(base_dir: &Path) -> Result<(), Box<dyn Error>> {
    let dirs = KeyDirs::new(base_dir);

    // Each directory starts empty.
    for d in dirs.all() {
        if d.exists() {
            fs::remove_dir_all(d).map_err(|e| file_error("remove", d, e))?;
        }
        fs::create_dir(d).map_err(|e| file_error("create", d, e))?;
    }

    // Both certificates are made in certificates/...
    let (_server_public_file, _server_secret_file) =
        create_certificates(&dirs.keys, "server", &[])?;
    let (_client_public_file, _client_secret_file) =
        create_certificates(&dirs.keys, "client", &[])?;

    // ...then the public halves go to public_keys/ and the secret ones to
    // private_keys/.
    move_files(&dirs.keys, ".key", &dirs.public_keys)?;
    move_files(&dirs.keys, ".key_secret", &dirs.secret_keys)?;
    Ok(())
}

/// Moves every file of `from` whose name ends with `suffix` into `to`.
fn move_files(from: &Path, suffix: &str, to: &Path) -> Result<(), Box<dyn Error>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(from).map_err(|e| file_error("list", from, e))? {
        let name = entry.map_err(|e| file_error("list", from, e))?.file_name();
        if name.to_string_lossy().ends_with(suffix) {
            names.push(name);
        }
    }
    for name in names {
        let (source, target) = (from.join(&name), to.join(&name));
        fs::rename(&source, &target).map_err(|e| {
            format!(
                "cannot move {} to {}: {e}",
                source.display(),
                target.display()
            )
        })?;
    }
    Ok(())
}

fn file_error(operation: &str, path: &Path, e: std::io::Error) -> String {
    format!("cannot {operation} {}: {e}", path.display())
}

fn run(args: Args) -> Result<(), Box<dyn Error>> {
    require_curve()?;
    generate_certificates(&args.base_dir)
}

/// Creates a server's and a client's CURVE certificates under a base
/// directory (pyzmq's generate_certificates.py).
#[derive(Parser)]
struct Args {
    /// Directory to put certificates/, public_keys/ and private_keys/ in
    #[arg(long, value_name = "DIR", default_value = ".")]
    base_dir: PathBuf,
}

fn main() -> ExitCode {
    pyport::main(run)
}
