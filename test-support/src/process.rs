//! Child processes in tests: an example binary or a Python script, with its
//! stdout and stderr captured line by line, every wait bounded by a deadline,
//! and the process killed when its [`Proc`] is dropped.
//!
//! A wait that runs out fails the test with a message that names the process
//! and shows what it printed on both streams (see [`Proc::diagnostics`]).
//!
//! ```no_run
//! use std::time::Duration;
//! use tx0mq_test_support::process::Proc;
//!
//! let mut server = Proc::spawn("hwserver", &["--bind", "ipc:///tmp/hw"]);
//! let mut client = Proc::spawn("hwclient", &["--connect", "ipc:///tmp/hw"]);
//! client.expect_line("Received reply 9 [ b'World' ]", Duration::from_secs(60));
//! assert!(client.wait(Duration::from_secs(60)).success());
//! server.expect_line("Received request: b'Hello'", Duration::from_secs(60));
//! ```

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Once};
use std::time::{Duration, Instant};

/// How many of the last stdout lines a failure message shows.
const SHOWN_STDOUT: usize = 60;
/// How many of the last stderr lines a failure message shows.
const SHOWN_STDERR: usize = 40;
/// How long [`Proc::wait`] waits, after the process exited, for the rest of
/// its output (a grandchild may still hold the pipe).
const OUTPUT_TAIL: Duration = Duration::from_secs(5);

/// The compiled example `name`, which `cargo test` builds next to the test
/// binaries (`target/<profile>/examples/`). Fails the test when it is missing.
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the target directory");
    let path = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: run the whole suite (`cargo test --workspace` builds the examples)",
        path.display()
    );
    path
}

/// Fails the test unless each of `examples` was built after its source
/// (`examples/NAME.rs`) and the shared modules it includes (`mod pyport;`
/// is `examples/pyport/`; `mdp/`, `bstar/`, ... alike)
/// last changed. `cargo test --test TEST` runs the examples as they were last
/// built but does not build them (a whole `cargo test` does): this fails
/// clearly rather than test a stale binary. `test` is the test binary's
/// name, for the message.
///
/// Checks once per test binary: the first call decides, later ones (from the
/// binary's other tests, with the same list) return at once.
pub fn examples_are_fresh(test: &str, examples: &[&str]) {
    static CHECKED: Once = Once::new();
    CHECKED.call_once(|| {
        let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        let modified = |path: &Path| fs::metadata(path).and_then(|m| m.modified()).ok();
        let files_in = |dir: PathBuf| {
            fs::read_dir(dir)
                .into_iter()
                .flatten()
                .flatten()
                .map(|entry| entry.path())
        };
        for name in examples {
            let built = modified(&example(name)).expect("the example's binary");
            let source = sources.join(format!("{name}.rs"));
            // The example's own file and the shared module folders it
            // includes (`mod pyport;` is examples/pyport/), newest first.
            let text = fs::read_to_string(&source).unwrap_or_default();
            let folders = text.lines().filter_map(|line| {
                let module = line.trim().strip_prefix("mod ")?.strip_suffix(';')?;
                Some(sources.join(module)).filter(|dir| dir.is_dir())
            });
            let newest = folders
                .flat_map(files_in)
                .chain(std::iter::once(source))
                .filter_map(|path| Some((modified(&path)?, path)))
                .max();
            let Some((newest, path)) = newest else {
                continue;
            };
            let path = path.strip_prefix(&sources).unwrap_or(&path);
            assert!(
                newest <= built,
                "examples/{} changed after example {name} was built: run `cargo build \
                 --examples` first (`cargo test --test {test}` alone does not rebuild \
                 examples; `cargo test --workspace` does)",
                path.display()
            );
        }
    });
}

/// What a process wrote on stdout, as [`Proc::forward`] hands it on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// One line, without its line ending.
    Line(String),
    /// The end of stdout: the process exited or closed it.
    End,
}

type Sink = Box<dyn FnMut(Event) + Send>;

/// What the reader threads collected.
#[derive(Default)]
struct Captured {
    /// Stdout lines not yet read by the test (empty once forwarded).
    unread: VecDeque<String>,
    /// Every stdout line, in order.
    stdout: Vec<String>,
    /// Every stderr line, in order.
    stderr: Vec<String>,
    stdout_ended: bool,
    stderr_ended: bool,
    /// Where stdout goes instead of `unread`, once forwarded.
    sink: Option<Sink>,
}

#[derive(Default)]
struct Shared {
    captured: Mutex<Captured>,
    /// Signalled on every new line and at the end of either stream.
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Captured> {
        self.captured.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Why [`Proc::line`] got no line.
enum NoLine {
    Timeout,
    Ended,
}

/// A child's standard input, shareable with other threads and callbacks
/// (for peers that take commands on stdin). Cloning shares the pipe.
#[derive(Clone)]
pub struct Stdin(Arc<Mutex<Option<ChildStdin>>>);

impl Stdin {
    /// Writes `text` and flushes. Fails if stdin was closed or the process
    /// has gone (a broken pipe).
    pub fn write(&self, text: &str) -> std::io::Result<()> {
        let mut stdin = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let pipe = stdin.as_mut().ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "stdin is closed")
        })?;
        pipe.write_all(text.as_bytes())?;
        pipe.flush()
    }

    /// Writes `line` and a newline, ignoring a process that has gone: its
    /// end shows up on its stdout, where the test looks.
    pub fn send_line(&self, line: &str) {
        let _ = self.write(&format!("{line}\n"));
    }

    /// Closes stdin: the process reads end-of-file.
    pub fn close(&self) {
        let pipe = self.0.lock().unwrap_or_else(|p| p.into_inner()).take();
        drop(pipe);
    }
}

/// A running child process whose stdout and stderr are read line by line on
/// threads of their own. Killed (and reaped) when dropped.
pub struct Proc {
    /// The name failure messages use: the example's name, or what the
    /// caller chose (`"hwclient.py"`, `"txzmq_peer.py sub"`).
    pub name: String,
    /// The stdout lines the test has read, in order: those [`line`](Self::line)
    /// and the `expect_*` methods returned or skipped, and those
    /// [`drain`](Self::drain) and [`wait`](Self::wait) collected.
    pub seen: Vec<String>,
    child: Child,
    stdin: Stdin,
    shared: Arc<Shared>,
    status: Option<ExitStatus>,
}

impl Proc {
    /// Starts example `name` with `args`.
    pub fn spawn(name: &str, args: &[&str]) -> Proc {
        Self::spawn_with(name, args, &[])
    }

    /// Starts example `name` with `args` and extra environment variables.
    pub fn spawn_with(name: &str, args: &[&str], env: &[(&str, &str)]) -> Proc {
        let mut command = Command::new(example(name));
        command.args(args);
        for (key, value) in env {
            command.env(key, value);
        }
        Self::start(name, command)
    }

    /// Starts `command` (any program; its stdin, stdout and stderr are
    /// replaced by pipes) under `name`.
    pub fn start(name: impl Into<String>, mut command: Command) -> Proc {
        let name = name.into();
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let shared = Arc::new(Shared::default());
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        let out = shared.clone();
        std::thread::spawn(move || read_stdout(stdout, &out));
        let err = shared.clone();
        std::thread::spawn(move || read_stderr(stderr, &err));
        Proc {
            name,
            seen: Vec::new(),
            stdin: Stdin(Arc::new(Mutex::new(child.stdin.take()))),
            child,
            shared,
            status: None,
        }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    fn next_line(&mut self, within: Duration) -> Result<String, NoLine> {
        let deadline = Instant::now() + within;
        let mut captured = self.shared.lock();
        assert!(
            captured.sink.is_none(),
            "{}: its output is forwarded; it cannot also be read",
            self.name
        );
        loop {
            if let Some(line) = captured.unread.pop_front() {
                self.seen.push(line.clone());
                return Ok(line);
            }
            if captured.stdout_ended {
                return Err(NoLine::Ended);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(NoLine::Timeout);
            }
            captured = self
                .shared
                .changed
                .wait_timeout(captured, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// The next stdout line. Fails the test if none comes within `within`
    /// or stdout ends first.
    pub fn line(&mut self, within: Duration) -> String {
        match self.next_line(within) {
            Ok(line) => line,
            Err(NoLine::Timeout) => {
                panic!(
                    "{}: no line within {within:?}\n{}",
                    self.name,
                    self.diagnostics()
                )
            }
            Err(NoLine::Ended) => panic!(
                "{}: its output ended while a line was expected\n{}",
                self.name,
                self.diagnostics()
            ),
        }
    }

    /// Reads lines until one satisfies `wanted` and returns it (the others
    /// are kept in [`seen`](Self::seen)). Fails the test, saying it waited
    /// for `what`, if none comes within `within`.
    pub fn expect_matching(
        &mut self,
        what: &str,
        within: Duration,
        mut wanted: impl FnMut(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_line(left) {
                Ok(line) if wanted(&line) => return line,
                Ok(_) => {}
                Err(NoLine::Timeout) => panic!(
                    "{}: no {what} within {within:?}\n{}",
                    self.name,
                    self.diagnostics()
                ),
                Err(NoLine::Ended) => panic!(
                    "{}: its output ended before {what}\n{}",
                    self.name,
                    self.diagnostics()
                ),
            }
        }
    }

    /// Reads lines until one equals `expected`.
    pub fn expect_line(&mut self, expected: &str, within: Duration) {
        self.expect_matching(&format!("line {expected:?}"), within, |l| l == expected);
    }

    /// Reads lines until one contains `fragment`, and returns it.
    pub fn expect_containing(&mut self, fragment: &str, within: Duration) -> String {
        self.expect_matching(&format!("line containing {fragment:?}"), within, |l| {
            l.contains(fragment)
        })
    }

    /// Reads lines until `n` of them have equalled `expected`, all within
    /// `within`.
    pub fn expect_times(&mut self, expected: &str, n: usize, within: Duration) {
        let deadline = Instant::now() + within;
        for found in 0..n {
            let left = deadline.saturating_duration_since(Instant::now());
            let what = format!("line {expected:?} (seen {found} of {n})");
            self.expect_matching(&what, left, |l| l == expected);
        }
    }

    /// Takes every line already printed, without waiting, and returns
    /// everything read so far ([`seen`](Self::seen)).
    pub fn drain(&mut self) -> &[String] {
        let mut captured = self.shared.lock();
        self.seen.extend(captured.unread.drain(..));
        drop(captured);
        &self.seen
    }

    /// From now on, hands each stdout line to `sink` on the reader thread,
    /// then [`Event::End`] once; lines already printed and not yet read
    /// come first. Afterwards the lines cannot be read with
    /// [`line`](Self::line); [`transcript`](Self::transcript) still has them.
    ///
    /// `sink` runs with this process's capture locked, to keep the order: it
    /// must not call back into this `Proc`.
    pub fn forward(&self, mut sink: impl FnMut(Event) + Send + 'static) {
        let mut captured = self.shared.lock();
        for line in captured.unread.drain(..) {
            sink(Event::Line(line));
        }
        if captured.stdout_ended {
            sink(Event::End);
        }
        captured.sink = Some(Box::new(sink));
    }

    /// A handle on the process's stdin, for other threads and callbacks.
    pub fn stdin(&self) -> Stdin {
        self.stdin.clone()
    }

    /// Writes `text` to stdin. Fails the test if stdin is closed or broken.
    pub fn write_stdin(&mut self, text: &str) {
        if let Err(e) = self.stdin.write(text) {
            panic!("{}: write to stdin: {e}\n{}", self.name, self.diagnostics());
        }
    }

    /// Closes stdin: the process reads end-of-file.
    pub fn close_stdin(&mut self) {
        self.stdin.close();
    }

    /// Sends a signal, as `kill` spells it (`"-INT"`, `"-TERM"`, `"-KILL"`).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} {} failed", self.name);
    }

    /// Waits up to `within` for the process to exit; `None` if it is still
    /// running. Once it has exited, the rest of its stdout is in
    /// [`seen`](Self::seen).
    pub fn wait_timeout(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = self.status {
                break status;
            }
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                self.status = Some(status);
                break status;
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        self.collect_the_rest();
        Some(status)
    }

    /// Waits for the process to exit and returns its status, with the rest
    /// of its stdout in [`seen`](Self::seen). Kills it and fails the test if
    /// it is still running after `within`.
    pub fn wait(&mut self, within: Duration) -> ExitStatus {
        match self.wait_timeout(within) {
            Some(status) => status,
            None => {
                let _ = self.child.kill();
                panic!(
                    "{}: did not exit within {within:?}\n{}",
                    self.name,
                    self.diagnostics()
                );
            }
        }
    }

    /// Waits for the process to exit (as [`wait`](Self::wait)), fails the
    /// test unless it exited 0, showing what it printed on both streams, and
    /// returns every line of its stdout.
    pub fn succeeds(&mut self, within: Duration) -> Vec<String> {
        let status = self.wait(within);
        assert!(
            status.success(),
            "{} exited with {status:?}\n{}",
            self.name,
            self.diagnostics()
        );
        self.seen.clone()
    }

    /// Kills the process and returns its status, with the rest of its stdout
    /// in [`seen`](Self::seen).
    pub fn kill(&mut self) -> ExitStatus {
        if self.status.is_none() {
            let _ = self.child.kill();
            self.status = Some(self.child.wait().expect("wait for the killed process"));
        }
        self.collect_the_rest();
        self.status.expect("the status was just set")
    }

    /// After exit: waits (briefly) for the end of stdout and stderr, and
    /// moves what was not read into `seen`.
    fn collect_the_rest(&mut self) {
        let deadline = Instant::now() + OUTPUT_TAIL;
        let mut captured = self.shared.lock();
        while !(captured.stdout_ended && captured.stderr_ended) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            captured = self
                .shared
                .changed
                .wait_timeout(captured, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        self.seen.extend(captured.unread.drain(..));
    }

    /// Every line printed on stdout so far, read or not.
    pub fn transcript(&self) -> Vec<String> {
        self.shared.lock().stdout.clone()
    }

    /// Every line printed on stderr so far.
    pub fn stderr(&self) -> Vec<String> {
        self.shared.lock().stderr.clone()
    }

    /// Whether stdout has ended (the process exited or closed it).
    pub fn output_ended(&self) -> bool {
        self.shared.lock().stdout_ended
    }

    /// What a failure message shows: the last lines of stdout and stderr,
    /// long words shortened.
    pub fn diagnostics(&self) -> String {
        let captured = self.shared.lock();
        let mut text = String::new();
        let ended = if captured.stdout_ended {
            ", then closed it"
        } else {
            ""
        };
        let _ = writeln!(
            text,
            "--- {} printed {} line(s) on stdout{ended}:",
            self.name,
            captured.stdout.len()
        );
        tail(&mut text, &captured.stdout, SHOWN_STDOUT);
        let _ = writeln!(text, "--- and {} line(s) on stderr:", captured.stderr.len());
        tail(&mut text, &captured.stderr, SHOWN_STDERR);
        text
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Appends the last `shown` of `lines` to `text`, indented.
fn tail(text: &mut String, lines: &[String], shown: usize) {
    let skip = lines.len().saturating_sub(shown);
    if skip > 0 {
        let _ = writeln!(text, "  ... {skip} line(s) ...");
    }
    for line in &lines[skip..] {
        let _ = writeln!(text, "  {}", abbreviate(line));
    }
}

/// A line with every word over 80 characters shortened (peers print frames
/// in hex).
fn abbreviate(line: &str) -> String {
    line.split(' ')
        .map(|word| match word.char_indices().nth(64) {
            Some((cut, _)) if word.chars().count() > 80 => {
                format!("{}…({} chars)", &word[..cut], word.chars().count())
            }
            _ => word.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One line from `reader` without its line ending, or `None` at the end.
/// Bytes that are not UTF-8 are replaced, not an error.
fn read_line(reader: &mut impl BufRead) -> Option<String> {
    let mut bytes = Vec::new();
    match reader.read_until(b'\n', &mut bytes) {
        Ok(0) | Err(_) => None,
        Ok(_) => {
            if bytes.last() == Some(&b'\n') {
                bytes.pop();
                if bytes.last() == Some(&b'\r') {
                    bytes.pop();
                }
            }
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
    }
}

fn read_stdout(stdout: impl Read, shared: &Shared) {
    let mut reader = BufReader::new(stdout);
    loop {
        let line = read_line(&mut reader);
        let mut captured = shared.lock();
        let captured = &mut *captured;
        match line {
            Some(line) => {
                captured.stdout.push(line.clone());
                match captured.sink.as_mut() {
                    Some(sink) => sink(Event::Line(line)),
                    None => captured.unread.push_back(line),
                }
            }
            None => {
                captured.stdout_ended = true;
                if let Some(sink) = captured.sink.as_mut() {
                    sink(Event::End);
                }
                shared.changed.notify_all();
                return;
            }
        }
        shared.changed.notify_all();
    }
}

fn read_stderr(stderr: impl Read, shared: &Shared) {
    let mut reader = BufReader::new(stderr);
    while let Some(line) = read_line(&mut reader) {
        shared.lock().stderr.push(line);
    }
    shared.lock().stderr_ended = true;
    shared.changed.notify_all();
}
