//! The Python peers' interpreter: the virtual environment `scripts/interop-env`
//! makes (`<repo>/.venv-interop/`, or `$TX0MQ_INTEROP_VENV`), with pyzmq,
//! Twisted and txZMQ at the versions `tests/peers/requirements.txt` pins.
//!
//! Every test that runs Python gets its interpreter from [`interop_env`] (or
//! the [`python_or_skip!`](crate::python_or_skip) macro). When the
//! environment is missing or stale, the test is skipped, saying why on the
//! process's stderr; with `TX0MQ_REQUIRE_INTEROP=1` (as `.ci/run` sets) it
//! fails instead, saying how to make the environment.
//!
//! ```no_run
//! use tx0mq_test_support::python_or_skip;
//!
//! fn talks_to_pyzmq() {
//!     let env = python_or_skip!("talks_to_pyzmq");
//!     let mut peer = env.run_code("echo.py", "print('hello')", &[]);
//!     assert_eq!(peer.line(std::time::Duration::from_secs(30)), "hello");
//! }
//! ```

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::process::Proc;

/// The variable that turns a missing environment into a failure.
pub const REQUIRE_VAR: &str = "TX0MQ_REQUIRE_INTEROP";
/// The variable that moves the environment away from `<repo>/.venv-interop`.
pub const VENV_VAR: &str = "TX0MQ_INTEROP_VENV";
/// The modules the peers import; each must import in the environment.
pub const MODULES: [&str; 3] = ["zmq", "twisted", "txzmq"];
/// The distributions whose installed versions must equal their pins.
const PINNED: [&str; 3] = ["pyzmq", "Twisted", "txZMQ"];
/// How long the interpreter may take to answer the import check.
const PROBE: Duration = Duration::from_secs(30);

/// A usable interop environment.
#[derive(Debug)]
pub struct PythonEnv {
    /// The environment's directory.
    pub venv: PathBuf,
    /// Its interpreter, `<venv>/bin/python`.
    pub python: PathBuf,
    /// The peer scripts, `<repo>/tests/peers`.
    pub peers: PathBuf,
    /// The versions found, e.g. `pyzmq 27.3.0, Twisted 26.10.0, txZMQ 1.0.0`.
    pub versions: String,
}

impl PythonEnv {
    /// A command running the interpreter unbuffered (`python -u`), so each
    /// line a script prints reaches the test at once.
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.python);
        command.arg("-u");
        command
    }

    /// Starts `python -u -c code args...` under `name`.
    pub fn run_code(&self, name: &str, code: &str, args: &[&str]) -> Proc {
        let mut command = self.command();
        command.arg("-c").arg(code).args(args);
        Proc::start(name, command)
    }

    /// Starts the peer script `tests/peers/<script>` with `args`; its name in
    /// failure messages is `"<script> <first arg>"`.
    pub fn run_peer<S: AsRef<std::ffi::OsStr>>(&self, script: &str, args: &[S]) -> Proc {
        let mut command = self.command();
        command.arg(self.peers.join(script)).args(args);
        let name = match args.first() {
            Some(mode) => format!("{script} {}", mode.as_ref().to_string_lossy()),
            None => script.to_string(),
        };
        Proc::start(name, command)
    }
}

/// The repository's root directory.
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("test-support sits in the repository root")
}

/// Where the environment is looked for: `$TX0MQ_INTEROP_VENV`, else
/// `<repo>/.venv-interop`.
pub fn venv_dir() -> PathBuf {
    match std::env::var_os(VENV_VAR) {
        Some(dir) => PathBuf::from(dir),
        None => repo_root().join(".venv-interop"),
    }
}

/// Whether `TX0MQ_REQUIRE_INTEROP=1`: a test that cannot run its Python peer
/// then fails instead of skipping.
pub fn required() -> bool {
    std::env::var(REQUIRE_VAR).is_ok_and(|v| v == "1")
}

/// The interop environment, checked once per test binary; or, when it is
/// missing or stale, `None` after writing on the process's stderr that
/// `test` is skipped and why. With `TX0MQ_REQUIRE_INTEROP=1` it fails the
/// test instead, saying how to make the environment.
pub fn interop_env(test: &str) -> Option<&'static PythonEnv> {
    static ENV: OnceLock<Result<PythonEnv, String>> = OnceLock::new();
    match ENV.get_or_init(|| probe(&venv_dir())) {
        Ok(env) => Some(env),
        Err(why) => {
            assert!(
                !required(),
                "{test}: {REQUIRE_VAR}=1, but the Python interop environment is unusable: \
                 {why}.\nMake it with `scripts/interop-env` (it creates {} with the pinned \
                 pyzmq, Twisted and txZMQ; {VENV_VAR} moves it), or unset {REQUIRE_VAR} \
                 to skip the Python tests.",
                venv_dir().display()
            );
            // Straight to the process's stderr: the harness captures
            // `eprintln!`, and a skip must show in a plain `cargo test`.
            let _ = writeln!(
                std::io::stderr(),
                "test {test} SKIPPED: {why}; run scripts/interop-env to set it up \
                 ({REQUIRE_VAR}=1 makes this a failure)"
            );
            None
        }
    }
}

/// Returns the [`PythonEnv`](crate::python::PythonEnv) from
/// [`interop_env`](crate::python::interop_env), or returns early from the
/// calling test (which passes, after saying why it skipped).
#[macro_export]
macro_rules! python_or_skip {
    ($test:expr) => {
        match $crate::python::interop_env($test) {
            Some(env) => env,
            None => return,
        }
    };
}

/// The pins of `tests/peers/requirements.txt`, as (distribution, version).
fn pins(peers: &Path) -> Result<Vec<(String, String)>, String> {
    let path = peers.join("requirements.txt");
    let text =
        std::fs::read_to_string(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once("=="))
        .map(|(name, version)| (name.trim().to_string(), version.trim().to_string()))
        .collect())
}

/// Looks for the environment in `venv` and checks it imports the peers'
/// modules at their pinned versions; says why not otherwise. (Not cached:
/// [`interop_env`] checks once per test binary.)
pub fn probe(venv: &Path) -> Result<PythonEnv, String> {
    let venv = venv.to_path_buf();
    let python = venv.join("bin/python");
    if !python.exists() {
        return Err(format!(
            "no Python environment at {} (no bin/python)",
            venv.display()
        ));
    }
    let peers = repo_root().join("tests/peers");
    let wanted: Vec<(String, String)> = pins(&peers)?
        .into_iter()
        .filter(|(name, _)| PINNED.contains(&name.as_str()))
        .collect();
    let names: Vec<String> = wanted.iter().map(|(n, _)| format!("{n:?}")).collect();
    let script = format!(
        "import {}\nfrom importlib.metadata import version\n\
         print(' '.join(version(n) for n in [{}]))",
        MODULES.join(", "),
        names.join(", ")
    );
    let mut command = Command::new(&python);
    command.args(["-c", &script]);
    let mut check = Proc::start(format!("{} (import check)", python.display()), command);
    check.close_stdin();
    let status = check
        .wait_timeout(PROBE)
        .ok_or_else(|| format!("{} did not answer within {PROBE:?}", python.display()))?;
    if !status.success() {
        let stderr = check.stderr();
        return Err(format!(
            "{} cannot import {}: {}",
            venv.display(),
            MODULES.join(", "),
            stderr.last().map(String::as_str).unwrap_or("")
        ));
    }
    let found: Vec<String> = check
        .seen
        .join(" ")
        .split_whitespace()
        .map(str::to_string)
        .collect();
    if found.len() != wanted.len() {
        return Err(format!(
            "{} reported versions {found:?} for {names:?}",
            python.display()
        ));
    }
    for ((name, pinned), found) in wanted.iter().zip(&found) {
        if pinned != found {
            return Err(format!(
                "{} has {name} {found}, but tests/peers/requirements.txt pins {pinned} \
                 (stale environment)",
                venv.display()
            ));
        }
    }
    let versions = wanted
        .iter()
        .zip(&found)
        .map(|((name, _), version)| format!("{name} {version}"))
        .collect::<Vec<_>>()
        .join(", ");
    Ok(PythonEnv {
        venv,
        python,
        peers,
        versions,
    })
}
