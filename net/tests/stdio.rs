//! StandardIO: a `LineReceiver` on the process's standard input and output.
//!
//! The transport works on the process's own fd 0 and 1, so these tests run
//! it in a child process: this test binary started again with
//! `TX0MQ_NET_STDIO_CHILD` set, whose stdin and stdout are pipes (or a
//! regular file, or /dev/null) the parent controls. That is why this file
//! has its own `main` (`harness = false` in Cargo.toml) instead of libtest's.
//! One test runs the transport in this process on pipes of its own
//! (`StandardIO::with_fds`).
//!
//! The child echoes each line as `echo: LINE`, answers `big N` with a line
//! of N bytes, closes on `bye`, and prints `lost: REASON` after the
//! transport has closed (with `println!`, which works again then: the
//! descriptors are blocking again).

use std::fs::File;
use std::io::{Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use tx0mq_net::basic::{LineCtx, LineProtocol, LineReceiver};
use tx0mq_net::{Reason, StandardIO};
use tx0mq_reactor::Reactor;
use tx0mq_test_support::net::TempDir;
use tx0mq_test_support::process::Proc;
use tx0mq_test_support::reactor::{iterate_until, reactor};

/// Set in the child: what it is (its value is unused).
const CHILD_VAR: &str = "TX0MQ_NET_STDIO_CHILD";
/// How long any wait may take.
const PATIENCE: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// The child

#[derive(Default)]
struct Child {
    lost: Option<Reason>,
}

struct EchoLines;

impl LineProtocol<Child> for EchoLines {
    fn connection_made(&mut self, cx: &mut LineCtx<'_, Child>) {
        cx.send_line("ready").expect("write");
    }
    fn line_received(&mut self, cx: &mut LineCtx<'_, Child>, line: &[u8]) {
        if let Some(n) = line.strip_prefix(b"big ") {
            let n: usize = String::from_utf8_lossy(n).parse().expect("big N");
            let big: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
            cx.send_line(big).expect("write a big line");
            return;
        }
        cx.send_line([&b"echo: "[..], line].concat())
            .expect("write");
        if line == b"bye" {
            cx.transport.lose_connection();
        }
    }
    fn connection_lost(&mut self, cx: &mut LineCtx<'_, Child>, reason: &Reason) {
        cx.state.lost = Some(reason.clone());
        let _ = cx.reactor.stop();
    }
}

fn child() -> ExitCode {
    let reactor = match Reactor::builder()
        .state(Child::default())
        .handle_signals(false)
        .build()
    {
        Ok(reactor) => reactor,
        Err(e) => {
            eprintln!("child: {e}");
            return ExitCode::FAILURE;
        }
    };
    let protocol = LineReceiver::new(EchoLines).delimiter(b"\n");
    let stdio = match StandardIO::new(&reactor, protocol) {
        Ok(stdio) => stdio,
        Err(e) => {
            eprintln!("child: {e}");
            return ExitCode::FAILURE;
        }
    };
    let deadline = reactor.call_later(PATIENCE, |cx| {
        eprintln!("child: no end of input within {PATIENCE:?}");
        cx.reactor.stop()
    });
    if let Err(e) = reactor.run() {
        eprintln!("child: {e}");
        return ExitCode::FAILURE;
    }
    let _ = deadline.cancel();
    assert!(!stdio.is_connected());
    match reactor.access_state(|s| s.lost.take()) {
        Ok(Some(reason)) => {
            println!("lost: {reason:?}");
            ExitCode::SUCCESS
        }
        _ => ExitCode::FAILURE,
    }
}

// ---------------------------------------------------------------------------
// The tests

/// This test binary as the child, with `stdin` and `stdout`.
fn child_command() -> Command {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut command = Command::new(exe);
    command.env(CHILD_VAR, "1");
    command
}

fn lines_from_a_pipe_are_echoed_and_end_of_file_loses_the_connection() {
    let mut child = Proc::start("stdio child", child_command());
    assert_eq!(child.line(PATIENCE), "ready");
    child.write_stdin("hello\n");
    assert_eq!(child.line(PATIENCE), "echo: hello");
    child.write_stdin("two\nlines\npart");
    assert_eq!(child.line(PATIENCE), "echo: two");
    assert_eq!(child.line(PATIENCE), "echo: lines");
    child.write_stdin("ial\n");
    assert_eq!(child.line(PATIENCE), "echo: partial");
    child.close_stdin();
    assert_eq!(child.line(PATIENCE), "lost: PeerClosed");
    let status = child.wait(PATIENCE);
    assert!(status.success(), "{status:?}: {}", child.diagnostics());
}

fn a_big_answer_is_written_as_the_reader_of_stdout_takes_it() {
    let mut child = Proc::start("stdio child", child_command());
    assert_eq!(child.line(PATIENCE), "ready");
    // Far more than a pipe holds (64 KiB): the transport buffers the rest
    // and flushes as the reader takes it.
    let n = 1 << 20;
    child.write_stdin(&format!("big {n}\nbye\n"));
    let big = child.line(PATIENCE);
    assert_eq!(big.len(), n);
    assert!(big
        .bytes()
        .enumerate()
        .all(|(i, b)| b == b'a' + (i % 26) as u8));
    assert_eq!(child.line(PATIENCE), "echo: bye");
    assert_eq!(child.line(PATIENCE), "lost: Closed");
    let status = child.wait(PATIENCE);
    assert!(status.success(), "{status:?}: {}", child.diagnostics());
}

/// Runs the child with `stdin` and `stdout` until it exits; returns its
/// exit status and what it wrote on stdout and stderr.
fn run_child(stdin: Stdio, stdout: Stdio) -> (std::process::ExitStatus, String, String) {
    let mut child = child_command()
        .stdin(stdin)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the child");
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the child did not exit within {PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut out = String::new();
    if let Some(mut pipe) = child.stdout.take() {
        pipe.read_to_string(&mut out).expect("the child's stdout");
    }
    let mut err = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        pipe.read_to_string(&mut err).expect("the child's stderr");
    }
    (status, out, err)
}

fn a_regular_file_as_stdin_and_stdout_is_read_to_its_end() {
    let dir = TempDir::new("stdio-files");
    let input = dir.dir().join("input");
    let output = dir.dir().join("output");
    std::fs::write(&input, b"one\ntwo\nno newline").expect("write the input");
    let stdin = File::open(&input).expect("open the input");
    let stdout = File::create(&output).expect("create the output");
    let (status, _, err) = run_child(Stdio::from(stdin), Stdio::from(stdout));
    assert!(status.success(), "{status:?}: {err}");
    let written = std::fs::read_to_string(&output).expect("read the output");
    assert_eq!(
        written, "ready\necho: one\necho: two\nlost: PeerClosed\n",
        "a last line without its delimiter is not delivered"
    );
}

fn dev_null_as_stdin_ends_at_once() {
    let (status, out, err) = run_child(Stdio::null(), Stdio::piped());
    assert!(status.success(), "{status:?}: {err}");
    assert_eq!(out, "ready\nlost: PeerClosed\n");
}

#[derive(Default)]
struct Local {
    lines: Vec<String>,
    lost: Option<Reason>,
}

struct Upper;

impl LineProtocol<Local> for Upper {
    fn line_received(&mut self, cx: &mut LineCtx<'_, Local>, line: &[u8]) {
        cx.state
            .lines
            .push(String::from_utf8_lossy(line).into_owned());
        cx.send_line(line.to_ascii_uppercase()).expect("write");
    }
    fn connection_lost(&mut self, cx: &mut LineCtx<'_, Local>, reason: &Reason) {
        cx.state.lost = Some(reason.clone());
    }
}

fn with_fds_runs_on_pipes_it_owns_and_closes() {
    let reactor = reactor(Local::default());
    // mio's pipes (nonblocking), with the test's ends made blocking.
    let (mut input_writer, input_reader) = mio::unix::pipe::new().expect("a pipe");
    let (output_writer, mut output_reader) = mio::unix::pipe::new().expect("a pipe");
    input_writer
        .set_nonblocking(false)
        .expect("blocking writer");
    output_reader
        .set_nonblocking(false)
        .expect("blocking reader");
    let stdio = StandardIO::with_fds(
        &reactor,
        LineReceiver::new(Upper).delimiter(b"\n"),
        input_reader,
        output_writer,
    )
    .expect("StandardIO on pipes");
    assert_eq!(stdio.get_peer().to_string(), "pipe");
    input_writer.write_all(b"quiet\nplease\n").expect("write");
    iterate_until(&reactor, "two lines", |s| s.lines.len() == 2);
    drop(input_writer);
    iterate_until(&reactor, "end-of-file", |s| s.lost.is_some());
    reactor
        .access_state(|s| assert!(matches!(s.lost, Some(Reason::PeerClosed)), "{:?}", s.lost))
        .expect("state");
    // The transport closed its end of the output pipe: reading ends.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = String::new();
        let _ = tx.send(output_reader.read_to_string(&mut out).map(|_| out));
    });
    let out = rx
        .recv_timeout(PATIENCE)
        .expect("end-of-file on the output pipe: the transport closed its end")
        .expect("read the output");
    assert_eq!(out, "QUIET\nPLEASE\n");
}

// ---------------------------------------------------------------------------
// The harness

type Test = (&'static str, fn());

const TESTS: [Test; 5] = [
    (
        "lines_from_a_pipe_are_echoed_and_end_of_file_loses_the_connection",
        lines_from_a_pipe_are_echoed_and_end_of_file_loses_the_connection,
    ),
    (
        "a_big_answer_is_written_as_the_reader_of_stdout_takes_it",
        a_big_answer_is_written_as_the_reader_of_stdout_takes_it,
    ),
    (
        "a_regular_file_as_stdin_and_stdout_is_read_to_its_end",
        a_regular_file_as_stdin_and_stdout_is_read_to_its_end,
    ),
    (
        "dev_null_as_stdin_ends_at_once",
        dev_null_as_stdin_ends_at_once,
    ),
    (
        "with_fds_runs_on_pipes_it_owns_and_closes",
        with_fds_runs_on_pipes_it_owns_and_closes,
    ),
];

/// Runs the tests whose names contain one of the arguments that are not
/// flags (all of them without such arguments), as libtest would, and
/// reports each; `--list` lists them.
fn main() -> ExitCode {
    if std::env::var_os(CHILD_VAR).is_some() {
        return child();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        for (name, _) in TESTS {
            println!("{name}: test");
        }
        return ExitCode::SUCCESS;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let chosen: Vec<&Test> = TESTS
        .iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .collect();
    println!("\nrunning {} tests", chosen.len());
    let mut failed = Vec::new();
    for (name, test) in &chosen {
        let outcome = catch_unwind(AssertUnwindSafe(test));
        println!(
            "test {name} ... {}",
            if outcome.is_ok() { "ok" } else { "FAILED" }
        );
        if outcome.is_err() {
            failed.push(*name);
        }
    }
    println!(
        "\ntest result: {}. {} passed; {} failed\n",
        if failed.is_empty() { "ok" } else { "FAILED" },
        chosen.len() - failed.len(),
        failed.len()
    );
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
