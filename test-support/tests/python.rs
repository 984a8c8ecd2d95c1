//! Python discovery: a missing environment is skipped with a reason, or
//! fails the test under `TX0MQ_REQUIRE_INTEROP=1`. Checked in a child run of
//! this test binary, with the environment pointed at a directory that does
//! not exist.

use std::process::Command;
use std::time::Duration;

use tx0mq_test_support::net::TempDir;
use tx0mq_test_support::process::Proc;
use tx0mq_test_support::python::{probe, REQUIRE_VAR, VENV_VAR};

/// Set in the child run: the test named by it asks for the environment.
const CHILD: &str = "TX0MQ_TEST_SUPPORT_PYTHON_CHILD";

/// In the child run: a test that needs Python. Passes at once otherwise.
#[test]
fn child_needs_python() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let env = tx0mq_test_support::python_or_skip!("child_needs_python");
    println!("GOT PYTHON {}", env.python.display());
}

fn run_child(require: Option<&str>) -> (bool, String) {
    let missing = TempDir::new("no-venv");
    let mut command = Command::new(std::env::current_exe().expect("this test binary"));
    command
        .args([
            "--exact",
            "child_needs_python",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env(VENV_VAR, missing.dir().join("absent"))
        .env_remove(REQUIRE_VAR);
    if let Some(value) = require {
        command.env(REQUIRE_VAR, value);
    }
    let mut child = Proc::start("child test run", command);
    let status = child.wait(Duration::from_secs(60));
    let mut all = child.seen.clone();
    all.extend(child.stderr());
    (status.success(), all.join("\n"))
}

#[test]
fn a_missing_environment_is_skipped_with_the_reason() {
    let (passed, output) = run_child(None);
    assert!(passed, "{output}");
    assert!(
        output.contains("child_needs_python SKIPPED: no Python environment at"),
        "{output}"
    );
    assert!(output.contains("run scripts/interop-env"), "{output}");
    assert!(!output.contains("GOT PYTHON"), "{output}");
}

#[test]
fn a_missing_environment_fails_when_required() {
    let (passed, output) = run_child(Some("1"));
    assert!(!passed, "{output}");
    assert!(
        output.contains("TX0MQ_REQUIRE_INTEROP=1, but the Python interop environment is unusable"),
        "{output}"
    );
    assert!(
        output.contains("Make it with `scripts/interop-env`"),
        "{output}"
    );
}

#[test]
fn only_the_value_1_requires_it() {
    let (passed, output) = run_child(Some("0"));
    assert!(passed, "{output}");
    assert!(output.contains("SKIPPED"), "{output}");
}

#[test]
fn probe_names_the_missing_interpreter() {
    let dir = TempDir::new("no-venv");
    let why = probe(&dir.dir().join("absent")).expect_err("no environment there");
    assert!(why.contains("no bin/python"), "{why}");
}
