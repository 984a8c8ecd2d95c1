//! Running examples as real processes in tests: build paths, deadlines,
//! line-by-line output, and cleanup.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// The compiled example, which `cargo test` builds next to the test binaries.
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let path = dir.join("examples").join(name);
    assert!(
        path.exists(),
        "{} is missing: run the whole suite (`cargo test --workspace` builds the examples)",
        path.display()
    );
    path
}

/// A free TCP port on 127.0.0.1 (bound and released: good enough when the
/// example binds it right away).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running example: its stdout arrives line by line on a channel; it is
/// killed when dropped.
pub struct Proc {
    pub name: String,
    child: Child,
    lines: Receiver<String>,
    pub seen: Vec<String>,
}

impl Proc {
    /// Starts example `name` with `args`.
    pub fn spawn(name: &str, args: &[&str]) -> Proc {
        Self::spawn_with(name, args, &[])
    }

    /// Starts example `name` with `args` and extra environment.
    pub fn spawn_with(name: &str, args: &[&str], env: &[(&str, &str)]) -> Proc {
        let mut command = Command::new(example(name));
        command
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let stdout: ChildStdout = child.stdout.take().expect("stdout");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                match line {
                    Ok(line) => {
                        if tx.send(line).is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                }
            }
        });
        Proc {
            name: name.to_string(),
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// The next line, or a panic naming the process after `within`.
    pub fn line(&mut self, within: Duration) -> String {
        match self.lines.recv_timeout(within) {
            Ok(line) => {
                self.seen.push(line.clone());
                line
            }
            Err(RecvTimeoutError::Timeout) => {
                panic!(
                    "{}: no line within {within:?}; so far: {:#?}",
                    self.name, self.seen
                )
            }
            Err(RecvTimeoutError::Disconnected) => {
                panic!("{}: output ended; so far: {:#?}", self.name, self.seen)
            }
        }
    }

    /// Reads lines until one equals `expected` (others are kept in `seen`).
    pub fn expect_line(&mut self, expected: &str, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if self.line(left) == expected {
                return;
            }
        }
    }

    /// Reads lines until one contains `fragment`, returning it.
    pub fn expect_containing(&mut self, fragment: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.line(left);
            if line.contains(fragment) {
                return line;
            }
        }
    }

    /// Writes to the process's stdin.
    pub fn write_stdin(&mut self, text: &str) {
        use std::io::Write;
        let stdin = self.child.stdin.as_mut().expect("stdin");
        stdin.write_all(text.as_bytes()).expect("write stdin");
        stdin.flush().expect("flush stdin");
    }

    /// Sends a signal (`"-INT"`, `"-TERM"`, `"-KILL"`).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {signal} {}", self.name);
    }

    /// Waits for exit (failing after `within`), collecting the rest of stdout.
    pub fn wait(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
                    self.seen.push(line);
                }
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "{}: did not exit within {within:?}; output: {:#?}",
                    self.name, self.seen
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Everything printed so far, drained without waiting for more.
    pub fn drain(&mut self) -> &[String] {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        &self.seen
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(mut err) = self.child.stderr.take() {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
        }
    }
}

/// Serialises the tests that must use the originals' fixed ports.
pub fn fixed_ports() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}
