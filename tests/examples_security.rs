//! pyzmq's security examples (`examples/security/`), ported, run as real
//! processes with a deadline on every wait, checking what they print and
//! their exit status.
//!
//! `grasslands`, `strawhouse` and `woodhouse` (NULL and PLAIN) run on every
//! build. The CURVE examples (`generate_certificates`, `stonehouse`,
//! `ironhouse`, `ioloop_ironhouse`, `asyncio_ironhouse`) need a libzmq with
//! CURVE (`--config .cargo/system-libzmq.toml`): there each test makes its
//! own certificates with `generate_certificates` in a temporary base
//! directory and runs the example on them; on the default build, whose
//! libzmq has no CURVE, each test asserts that the example refuses at once
//! with the `CurveUnavailable` message and exit status 1, and with
//! `TX0MQ_REQUIRE_CURVE=1` it fails instead (see
//! `tx0mq_test_support::curve`).
//!
//! Every run gets its own TCP port on 127.0.0.1 (the examples allow or deny
//! clients by that address), so the tests run in parallel with each other
//! and with other test binaries.

use std::path::Path;
use std::process::{Command, ExitStatus};
use std::time::Duration;

use tx0mq::connections::security::{load_certificate, CurveKey};
use tx0mq_test_support::curve::{require_or_absent, Curve};
use tx0mq_test_support::net::{free_port, TempDir};
use tx0mq_test_support::process::{example, examples_are_fresh, Proc};

/// How long any one run may take, on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(60);

/// The examples these tests run.
const EXAMPLES: [&str; 8] = [
    "grasslands",
    "strawhouse",
    "woodhouse",
    "generate_certificates",
    "stonehouse",
    "ironhouse",
    "ioloop_ironhouse",
    "asyncio_ironhouse",
];

/// The examples that need CURVE.
const CURVE_EXAMPLES: [&str; 5] = [
    "generate_certificates",
    "stonehouse",
    "ironhouse",
    "ioloop_ironhouse",
    "asyncio_ironhouse",
];

/// How long the examples with a `poll(1000)` wait for the message in the
/// runs that must succeed: the original's second is short on a loaded
/// machine.
const LONG_WAIT_MS: &str = "30000";

/// What a run printed and how it ended.
struct Run {
    stdout: Vec<String>,
    stderr: Vec<String>,
    status: ExitStatus,
}

/// Runs example `name` with `args` to its end, with `RUST_LOG` set to
/// `rust_log` or (by default) unset, whatever the test's environment has.
fn run(name: &str, args: &[&str], rust_log: Option<&str>) -> Run {
    examples_are_fresh("examples_security", &EXAMPLES);
    let mut command = Command::new(example(name));
    command.args(args).env_remove("RUST_LOG");
    if let Some(filter) = rust_log {
        command.env("RUST_LOG", filter);
    }
    let mut proc = Proc::start(name, command);
    let status = proc.wait(PATIENCE);
    Run {
        stdout: proc.seen.clone(),
        stderr: proc.stderr(),
        status,
    }
}

impl Run {
    /// Fails unless the run exited 0 having printed exactly `lines`.
    fn printed(&self, name: &str, lines: &[&str]) {
        assert!(
            self.status.success() && self.stdout == lines,
            "{name}: expected {lines:?} and exit 0; got {:?} and {}; stderr: {:#?}",
            self.stdout,
            self.status,
            self.stderr
        );
    }

    /// Whether a stderr line (the library's log) contains `fragment`.
    fn logged(&self, fragment: &str) -> bool {
        self.stderr.iter().any(|line| line.contains(fragment))
    }
}

/// `--bind tcp://127.0.0.1:PORT --connect tcp://127.0.0.1:PORT` on a free
/// port.
fn endpoints() -> [String; 4] {
    let endpoint = format!("tcp://127.0.0.1:{}", free_port());
    [
        "--bind".to_string(),
        endpoint.clone(),
        "--connect".to_string(),
        endpoint,
    ]
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// The `RUST_LOG` that shows the authenticator's decisions.
const DECISIONS: &str = "tx0mq_connections::security=debug";

/// Runs `name` (`strawhouse`, `woodhouse`) on a free port with `flags` and
/// the authenticator's decisions logged; fails unless it printed `line`.
fn run_logging_decisions(name: &str, flags: &[&str], line: &str) -> Run {
    let ep = endpoints();
    let mut args = strs(&ep);
    args.extend(flags);
    let run = run(name, &args, Some(DECISIONS));
    run.printed(name, &[line]);
    run
}

/// Runs `name` with `flags` that let its second client in: it must report
/// the failure (`line`), the authenticator having refused no one.
fn reports_fail_when_let_in(name: &str, flags: &[&str], line: &str) {
    let run = run_logging_decisions(name, flags, line);
    assert!(!run.logged("refused"), "{:#?}", run.stderr);
}

// ------------------------------------------------------- NULL and PLAIN

#[test]
fn grasslands_sends_hello_with_no_security() {
    let ep = endpoints();
    run("grasslands", &strs(&ep), None).printed("grasslands", &["Grasslands test OK"]);
}

#[test]
fn strawhouse_lets_in_the_allowed_address_then_refuses_it_when_denied() {
    let run = run_logging_decisions("strawhouse", &[], "[INFO] Strawhouse test OK");
    // Both checks were the authenticator's decisions, not timing.
    assert!(
        run.logged("accepted NULL client from 127.0.0.1 (domain \"global\")"),
        "{:#?}",
        run.stderr
    );
    assert!(
        run.logged("refused NULL client from 127.0.0.1 (domain \"global\"): Address is denied"),
        "{:#?}",
        run.stderr
    );
}

#[test]
fn woodhouse_lets_in_the_password_and_refuses_a_wrong_one() {
    let run = run_logging_decisions("woodhouse", &[], "[INFO] Woodhouse test OK");
    assert!(
        run.logged("accepted PLAIN client \"admin\" from 127.0.0.1"),
        "{:#?}",
        run.stderr
    );
    assert!(
        run.logged("refused PLAIN client \"admin\" from 127.0.0.1 (domain \"\"): Invalid password"),
        "{:#?}",
        run.stderr
    );
}

#[test]
fn strawhouse_reports_fail_when_the_second_client_gets_in() {
    // The second authenticator denies another address: the client from
    // 127.0.0.1 is let in, gets the message, and the check must say so.
    reports_fail_when_let_in(
        "strawhouse",
        &["--deny", "10.11.12.13"],
        "[ERROR] Strawhouse test FAIL",
    );
}

#[test]
fn woodhouse_reports_fail_when_the_second_client_gets_in() {
    // The second client has the right password: it is let in, gets `World`,
    // and the check must say so (pyzmq's woodhouse.py does not: its message
    // may go to the first client's closing connection).
    reports_fail_when_let_in(
        "woodhouse",
        &["--bad-password", "secret"],
        "[ERROR] Woodhouse test FAIL",
    );
}

#[test]
fn verbose_flag_is_accepted_as_in_the_originals() {
    for name in ["strawhouse", "woodhouse"] {
        let ep = endpoints();
        let mut args = strs(&ep);
        args.push("-v");
        let expected = if name == "strawhouse" {
            "[INFO] Strawhouse test OK"
        } else {
            "[INFO] Woodhouse test OK"
        };
        run(name, &args, None).printed(name, &[expected]);
    }
}

// ----------------------------------------------------------------- CURVE

/// Whether this build has CURVE. Without it, asserts what `example` does
/// there (refuses at once, exit 1, the `CurveUnavailable` message, nothing
/// on stdout); with `TX0MQ_REQUIRE_CURVE=1`, fails the test instead.
fn curve_or_refusal(test: &str, example: &str) -> bool {
    match require_or_absent(test) {
        Curve::Available => true,
        Curve::Absent => {
            let base = TempDir::new("sec-nocurve");
            let run = run(example, &["--base-dir", base_dir(&base)], None);
            refuses_without_curve(example, &run);
            false
        }
    }
}

fn refuses_without_curve(name: &str, run: &Run) {
    assert_eq!(run.status.code(), Some(1), "{name}: {:#?}", run.stderr);
    assert_eq!(run.stdout, Vec::<String>::new(), "{name}");
    let expected = format!("{name}: this example needs CURVE, but the libzmq");
    assert!(
        run.stderr.len() == 1
            && run.stderr[0].starts_with(&expected)
            && run.stderr[0].contains("was built without it")
            && run.stderr[0].contains("system-libzmq.toml"),
        "{name}: {:#?}",
        run.stderr
    );
}

/// A base directory with the certificates `generate_certificates` makes.
fn certificates(label: &str) -> TempDir {
    let base = TempDir::new(label);
    let dir = base.dir().to_str().expect("a UTF-8 path").to_string();
    run("generate_certificates", &["--base-dir", &dir], None).printed("generate_certificates", &[]);
    base
}

fn base_dir(base: &TempDir) -> &str {
    base.dir().to_str().expect("a UTF-8 path")
}

/// Runs CURVE example `name` (`stonehouse`, `ironhouse`,
/// `asyncio_ironhouse`) on the certificates under `base`, on a free port,
/// waiting `timeout_ms` for the message.
fn run_curve(name: &str, base: &TempDir, timeout_ms: &str, rust_log: Option<&str>) -> Run {
    let ep = endpoints();
    let mut args = vec!["--base-dir", base_dir(base), "--timeout-ms", timeout_ms];
    args.extend(strs(&ep));
    run(name, &args, rust_log)
}

/// The public key of a certificate file.
fn public_key(path: &Path) -> CurveKey {
    load_certificate(path)
        .unwrap_or_else(|e| panic!("load {}: {e}", path.display()))
        .0
}

/// The names in a directory, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("list {}: {e}", dir.display()))
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

#[test]
fn generate_certificates_fills_the_key_directories_and_starts_afresh() {
    let test = "generate_certificates_fills_the_key_directories_and_starts_afresh";
    if require_or_absent(test) == Curve::Absent {
        // It refuses before it removes anything.
        let base = TempDir::new("sec-gen-nocurve");
        std::fs::create_dir(base.dir().join("public_keys")).expect("mkdir");
        std::fs::write(base.dir().join("public_keys/keep.key"), "mine").expect("write");
        let run = run(
            "generate_certificates",
            &["--base-dir", base_dir(&base)],
            None,
        );
        refuses_without_curve("generate_certificates", &run);
        assert_eq!(names(base.dir()), ["public_keys"]);
        assert_eq!(names(&base.dir().join("public_keys")), ["keep.key"]);
        return;
    }
    let base = certificates("sec-gen");
    let dir = base.dir();
    assert_eq!(names(&dir.join("certificates")), Vec::<String>::new());
    assert_eq!(
        names(&dir.join("public_keys")),
        ["client.key", "server.key"]
    );
    assert_eq!(
        names(&dir.join("private_keys")),
        ["client.key_secret", "server.key_secret"]
    );
    // Each secret certificate holds the pair of its public one.
    let mut publics = Vec::new();
    for name in ["server", "client"] {
        let public = public_key(&dir.join(format!("public_keys/{name}.key")));
        let secret_file = dir.join(format!("private_keys/{name}.key_secret"));
        let (public_too, secret) = load_certificate(&secret_file).expect("the secret certificate");
        assert_eq!(public_too, public, "{name}");
        assert!(secret.is_some(), "{name}: no secret key");
        publics.push(public);
    }
    assert_ne!(publics[0], publics[1]);

    // Run again: old content is removed, the keys are new.
    std::fs::write(dir.join("certificates/stale.key"), "old").expect("write a stale file");
    std::fs::write(dir.join("public_keys/old.key"), "old").expect("write a stale file");
    run(
        "generate_certificates",
        &["--base-dir", base_dir(&base)],
        None,
    )
    .printed("generate_certificates", &[]);
    assert_eq!(names(&dir.join("certificates")), Vec::<String>::new());
    assert_eq!(
        names(&dir.join("public_keys")),
        ["client.key", "server.key"]
    );
    assert_ne!(public_key(&dir.join("public_keys/server.key")), publics[0]);
}

#[test]
fn stonehouse_encrypts_and_lets_any_client_key_in() {
    if !curve_or_refusal(
        "stonehouse_encrypts_and_lets_any_client_key_in",
        "stonehouse",
    ) {
        return;
    }
    let base = certificates("sec-stone");
    run_curve("stonehouse", &base, LONG_WAIT_MS, None)
        .printed("stonehouse", &["[INFO] Stonehouse test OK"]);

    // CURVE_ALLOW_ANY: a client whose key the server does not know still
    // gets in.
    std::fs::remove_file(base.dir().join("public_keys/client.key")).expect("remove");
    run_curve("stonehouse", &base, LONG_WAIT_MS, None)
        .printed("stonehouse", &["[INFO] Stonehouse test OK"]);
}

#[test]
fn ironhouse_lets_in_only_the_client_keys_in_public_keys() {
    if !curve_or_refusal(
        "ironhouse_lets_in_only_the_client_keys_in_public_keys",
        "ironhouse",
    ) {
        return;
    }
    let base = certificates("sec-iron");
    run_curve("ironhouse", &base, LONG_WAIT_MS, None)
        .printed("ironhouse", &["[INFO] Ironhouse test OK"]);

    // Without the client's public certificate the client is refused: the
    // original's one second passes and it logs the failure (exit 0, as the
    // original).
    std::fs::remove_file(base.dir().join("public_keys/client.key")).expect("remove");
    let run = run_curve(
        "ironhouse",
        &base,
        "1000",
        Some("tx0mq_connections::security=info"),
    );
    run.printed("ironhouse", &["[ERROR] Ironhouse test FAIL"]);
    assert!(
        run.logged("refused CURVE client") && run.logged("Unknown key"),
        "{:#?}",
        run.stderr
    );
}

#[test]
fn ioloop_ironhouse_echoes_hello_world_over_curve() {
    if !curve_or_refusal(
        "ioloop_ironhouse_echoes_hello_world_over_curve",
        "ioloop_ironhouse",
    ) {
        return;
    }
    let base = certificates("sec-ioloop");
    let endpoint = format!("tcp://127.0.0.1:{}", free_port());
    let args = ["--base-dir", base_dir(&base), "--endpoint", &endpoint];
    run("ioloop_ironhouse", &args, None).printed("ioloop_ironhouse", &["[INFO] Ironhouse test OK"]);

    // -v: the server's and the client's debug lines; the routing id is
    // libzmq's (five bytes, a zero and a number), shown as Python shows bytes.
    let endpoint = format!("tcp://127.0.0.1:{}", free_port());
    let args = ["--base-dir", base_dir(&base), "--endpoint", &endpoint, "-v"];
    let run = run("ioloop_ironhouse", &args, None);
    assert!(run.status.success(), "{:#?} {:#?}", run.stdout, run.stderr);
    assert_eq!(run.stdout.len(), 4, "{:#?}", run.stdout);
    let id = run.stdout[0]
        .strip_prefix("[DEBUG] server recvd [b'\\x00")
        .and_then(|rest| rest.strip_suffix("', b'Hello']"))
        .unwrap_or_else(|| panic!("unexpected line {:?}", run.stdout[0]));
    assert!(!id.is_empty());
    assert_eq!(
        run.stdout[1],
        format!("[DEBUG] server sending [b'\\x00{id}', b'Hello', b'World']")
    );
    assert_eq!(run.stdout[2], "[DEBUG] client recvd [b'Hello', b'World']");
    assert_eq!(run.stdout[3], "[INFO] Ironhouse test OK");
}

#[test]
fn asyncio_ironhouse_names_the_client_by_its_key() {
    if !curve_or_refusal(
        "asyncio_ironhouse_names_the_client_by_its_key",
        "asyncio_ironhouse",
    ) {
        return;
    }
    let base = certificates("sec-asyncio");
    let client = public_key(&base.dir().join("public_keys/client.key"));
    run_curve("asyncio_ironhouse", &base, LONG_WAIT_MS, None).printed(
        "asyncio_ironhouse",
        &[
            &format!("[INFO] Received b'Hello' from '{}'", client.to_z85()),
            "[INFO] Ironhouse test OK",
        ],
    );

    // An unknown client key: nothing arrives within the wait.
    std::fs::remove_file(base.dir().join("public_keys/client.key")).expect("remove");
    run_curve("asyncio_ironhouse", &base, "1000", None)
        .printed("asyncio_ironhouse", &["[ERROR] Ironhouse test FAIL"]);
}

#[test]
fn curve_examples_without_certificates_say_to_generate_them() {
    if !curve_or_refusal(
        "curve_examples_without_certificates_say_to_generate_them",
        "ironhouse",
    ) {
        return;
    }
    let empty = TempDir::new("sec-nocerts");
    for (name, line) in [
        (
            "stonehouse",
            "[CRITICAL] Certificates are missing: run generate_certificates.py script first",
        ),
        (
            "ironhouse",
            "[CRITICAL] Certificates are missing - run generate_certificates.py script first",
        ),
        (
            "ioloop_ironhouse",
            "[CRITICAL] Certificates are missing - run generate_certificates script first",
        ),
        (
            "asyncio_ironhouse",
            "[CRITICAL] Certificates are missing - run generate_certificates.py script first",
        ),
    ] {
        let run = run(name, &["--base-dir", base_dir(&empty)], None);
        assert_eq!(run.status.code(), Some(1), "{name}: {:#?}", run.stderr);
        assert_eq!(run.stdout, [line], "{name}");
        assert_eq!(
            run.stderr,
            [format!(
                "{name}: no certificates/, public_keys/ and private_keys/ in {}",
                base_dir(&empty)
            )],
            "{name}"
        );
    }
}

// -------------------------------------------------------------- bad input

#[test]
fn bad_arguments_are_refused_without_a_panic() {
    for name in EXAMPLES {
        let run = run(name, &["--bogus"], None);
        assert_eq!(run.status.code(), Some(2), "{name}: {:#?}", run.stderr);
        assert!(
            run.stderr
                .iter()
                .any(|l| l.starts_with(&format!("{name}: error:"))),
            "{name}: {:#?}",
            run.stderr
        );
    }
    for name in ["stonehouse", "ironhouse", "asyncio_ironhouse"] {
        let run = run(name, &["--timeout-ms", "-1"], None);
        assert_eq!(run.status.code(), Some(2), "{name}: {:#?}", run.stderr);
    }
    // A bad endpoint is an error message and exit 1.
    let run = run("grasslands", &["--bind", "nonsense://here"], None);
    assert_eq!(run.status.code(), Some(1), "{:#?}", run.stderr);
    assert!(
        run.stderr.iter().any(|l| l.starts_with("grasslands: ")),
        "{:#?}",
        run.stderr
    );
}

#[test]
fn help_lists_the_base_directory_of_the_curve_examples() {
    for name in CURVE_EXAMPLES {
        let run = run(name, &["--help"], None);
        assert!(run.status.success(), "{name}: {}", run.status);
        assert!(
            run.stdout
                .iter()
                .any(|l| l.contains("--base-dir <DIR>") && l.contains("[default: .]")),
            "{name}: {:#?}",
            run.stdout
        );
    }
}
