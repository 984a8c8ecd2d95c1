//! Part M: pyzmq's serialization and logger examples (`serialsocket`,
//! `zmqlogger`), run as processes, with pyzmq peers for the log records
//! both ways (tests/peers/pub_log.py, which uses pyzmq's own PUBHandler).
//!
//! Build the examples first (`cargo build --examples`); every wait has a
//! deadline of one STEP.

use std::collections::HashMap;
use std::time::Duration;

use tx0mq_test_support::net::free_port;
use tx0mq_test_support::process::{examples_are_fresh, Proc};
use tx0mq_test_support::python_or_skip;

/// How long any one step may take on a loaded machine.
const STEP: Duration = Duration::from_secs(30);

/// The examples these tests run.
const EXAMPLES: [&str; 2] = ["serialsocket", "zmqlogger"];

fn fresh() {
    examples_are_fresh("examples_serial_log", &EXAMPLES);
}

const LEVELS: [&str; 5] = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];

/// Python's number for a level name.
fn number(level: &str) -> u32 {
    match LEVELS.iter().position(|l| *l == level) {
        Some(i) => 10 * (i as u32 + 1),
        None => panic!("{level:?} is no level"),
    }
}

/// The lines of a serialsocket run whose checks pass.
fn serialsocket_passes(args: &[&str], rows: usize) {
    let mut run = Proc::spawn("serialsocket", args);
    run.expect_line(&format!("Array is {} bytes", rows * 8), STEP);
    let zipped = run.line(STEP);
    let size: usize = zipped
        .strip_prefix("zipped pickle is ")
        .and_then(|rest| rest.strip_suffix(" bytes"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not the zipped size: {zipped:?}"));
    assert!(size > 0);
    run.expect_line("Checking zipped pickle...", STEP);
    run.expect_line("Okay", STEP);
    run.expect_line("Checking send_array...", STEP);
    run.expect_line("Okay", STEP);
    assert!(run.wait(STEP).success());
}

#[test]
fn serialsocket_checks_the_zipped_pickle_and_the_array_at_the_originals_size() {
    fresh();
    serialsocket_passes(&[], 1024);
}

#[test]
fn serialsocket_works_over_tcp_with_another_shape() {
    fresh();
    let endpoint = format!("tcp://127.0.0.1:{}", free_port());
    serialsocket_passes(
        &["--endpoint", &endpoint, "--rows", "33", "--cols", "7"],
        33,
    );
}

/// A record line of zmqlogger: `LEVEL:root:TEXT`, whose text says which
/// worker sent it; returns (level, pid).
fn record(line: &str) -> (String, u32) {
    let (level, rest) = line
        .split_once(":root:")
        .unwrap_or_else(|| panic!("not a record line: {line:?}"));
    let pid = rest
        .split("Hello from ")
        .nth(1)
        .and_then(|tail| tail.split('!').next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("no 'Hello from PID!' in {line:?}"));
    let expected_text = match level {
        "INFO" => format!("Hello from {pid}!"),
        "ERROR" => format!("Hello from {pid}! - None"),
        _ => format!("Hello from {pid}!"),
    };
    assert!(rest.ends_with(&expected_text), "{line:?}");
    if level != "INFO" {
        assert!(
            rest.starts_with(&format!("{level} zmqlogger.rs:")),
            "{line:?}"
        );
    }
    (level.to_string(), pid)
}

#[test]
fn zmqlogger_prints_its_workers_records_at_their_levels() {
    fresh();
    let port = free_port().to_string();
    let mut main = Proc::spawn(
        "zmqlogger",
        &[
            "3",
            &port,
            "--interval-ms",
            "20",
            "--records",
            "30",
            "--seed",
            "7",
        ],
    );
    // Workers announce themselves and the main process prints records, in
    // whatever order they come.
    let mut worker_levels: HashMap<u32, u32> = HashMap::new();
    let mut records = Vec::new();
    while records.len() < 30 {
        let line = main.line(STEP);
        if let Some(rest) = line.strip_prefix("starting logger at ") {
            let (pid, level) = rest
                .split_once(" with level=")
                .unwrap_or_else(|| panic!("{line:?}"));
            worker_levels.insert(pid.parse().unwrap(), level.parse().unwrap());
        } else {
            records.push(record(&line));
        }
    }
    assert!(main.wait(STEP).success(), "stops after --records");
    assert_eq!(
        worker_levels.len(),
        3,
        "three workers started: {worker_levels:?}"
    );
    for (level, pid) in &records {
        let floor = worker_levels
            .get(pid)
            .unwrap_or_else(|| panic!("a record from {pid}, no worker of ours"));
        assert!(
            number(level) >= *floor,
            "{level} from worker {pid} at level {floor}"
        );
    }
    // The workers end with the main process.
    for pid in worker_levels.keys() {
        let proc_dir = format!("/proc/{pid}");
        let deadline = std::time::Instant::now() + STEP;
        while std::path::Path::new(&proc_dir).exists()
            && std::fs::read_to_string(format!("{proc_dir}/stat"))
                .map(|stat| !stat.contains(") Z "))
                .unwrap_or(false)
        {
            assert!(
                std::time::Instant::now() < deadline,
                "worker {pid} outlived the main process"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn zmqlogger_workers_stop_when_the_main_process_is_killed() {
    fresh();
    let port = free_port().to_string();
    let mut main = Proc::spawn("zmqlogger", &["1", &port, "--interval-ms", "20"]);
    let line = main.expect_containing("starting logger at ", STEP);
    let pid: u32 = line
        .trim_start_matches("starting logger at ")
        .split(' ')
        .next()
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("{line:?}"));
    main.signal("-KILL");
    let deadline = std::time::Instant::now() + STEP;
    loop {
        let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| !stat.contains(") Z "))
            .unwrap_or(false);
        if !alive {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "worker {pid} outlived a killed main process"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn interop_zmqlogger_prints_pyzmqs_pubhandler_records() {
    let env = python_or_skip!("interop_zmqlogger_prints_pyzmqs_pubhandler_records");
    fresh();
    let port = free_port();
    let mut main = Proc::spawn("zmqlogger", &["0", &port.to_string(), "--records", "10"]);
    let endpoint = format!("tcp://127.0.0.1:{port}");
    let _peer = env.run_peer("pub_log.py", &["publish", &endpoint, "--interval-ms", "20"]);
    for _ in 0..10 {
        let line = main.line(STEP);
        let (level, text) = line
            .split_once(":root:")
            .unwrap_or_else(|| panic!("not a record line: {line:?}"));
        let n: usize = text
            .rsplit("record ")
            .next()
            .and_then(|tail| tail.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no record number in {line:?}"));
        assert_eq!(level, LEVELS[n % 5], "{line:?}");
        match level {
            "INFO" => assert_eq!(text, format!("record {n}")),
            "ERROR" => assert!(text.ends_with(&format!("record {n} - None")), "{line:?}"),
            _ => assert!(
                text.starts_with(&format!("{level} pub_log.py:")),
                "{line:?}"
            ),
        }
    }
    assert!(main.wait(STEP).success());
}

#[test]
fn interop_a_pyzmq_subscriber_reads_a_zmqlogger_worker() {
    let env = python_or_skip!("interop_a_pyzmq_subscriber_reads_a_zmqlogger_worker");
    fresh();
    let port = free_port();
    let endpoint = format!("tcp://127.0.0.1:{port}");
    let mut sub = env.run_peer("pub_log.py", &["subscribe", &endpoint, "5"]);
    sub.expect_line("READY", STEP);
    let mut worker = Proc::spawn(
        "zmqlogger",
        &[
            "1",
            &port.to_string(),
            "--interval-ms",
            "20",
            "--worker",
            "10",
        ],
    );
    let line = worker.expect_containing("starting logger at ", STEP);
    assert!(line.ends_with(" with level=10"), "{line:?}");
    let pid = line
        .trim_start_matches("starting logger at ")
        .split(' ')
        .next()
        .unwrap_or("")
        .to_string();
    for _ in 0..5 {
        let json = sub.line(STEP);
        // ["LEVEL", "TEXT"], as the peer prints the two frames.
        let (topic, text) = json
            .trim_start_matches("[\"")
            .trim_end_matches("\"]")
            .split_once("\", \"")
            .unwrap_or_else(|| panic!("not two frames: {json}"));
        assert!(LEVELS.contains(&topic), "{json}");
        assert!(text.contains(&format!("Hello from {pid}!")), "{json}");
        assert!(
            text.ends_with("\\n"),
            "pyzmq's formats end in a newline: {json}"
        );
    }
    assert!(sub.wait(STEP).success());
}
