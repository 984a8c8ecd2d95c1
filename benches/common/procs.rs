//! Processes for the benchmarks: libzmq's own perf tools (built from the
//! libzmq source that `zeromq-src` vendors, against the static `libzmq.a`
//! that `zmq-sys` built for this profile), child processes pinned to one
//! CPU, CPU-time clocks, and the descriptor limit.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// The cargo target directory this benchmark was built in: the executable
/// lives in `<target>/<profile>/deps/`.
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.ancestors()
        .nth(3)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"))
}

/// The profile directory (`<target>/release` for `cargo bench`).
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target/release"))
}

fn newest(paths: impl Iterator<Item = PathBuf>) -> Option<PathBuf> {
    paths
        .filter_map(|p| {
            let modified = p.metadata().and_then(|m| m.modified()).ok()?;
            Some((modified, p))
        })
        .max_by_key(|(m, _)| *m)
        .map(|(_, p)| p)
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

/// The static libzmq that zmq-sys built for this profile.
fn libzmq_a() -> Result<PathBuf, String> {
    let build = profile_dir().join("build");
    newest(
        entries(&build)
            .into_iter()
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("zmq-sys-"))
            })
            .map(|p| p.join("out/lib/libzmq.a"))
            .filter(|p| p.exists()),
    )
    .ok_or_else(|| format!("no zmq-sys-*/out/lib/libzmq.a under {}", build.display()))
}

/// The libzmq source tree vendored by the `zeromq-src` crate.
fn vendored_libzmq() -> Result<PathBuf, String> {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .ok_or("neither CARGO_HOME nor HOME is set")?;
    let registry = cargo_home.join("registry/src");
    newest(
        entries(&registry)
            .into_iter()
            .flat_map(|index| entries(&index))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("zeromq-src-"))
            })
            .map(|p| p.join("vendor"))
            .filter(|p| p.join("perf/local_thr.cpp").exists()),
    )
    .ok_or_else(|| format!("no zeromq-src-*/vendor/perf under {}", registry.display()))
}

/// One of libzmq's perf tools (`local_thr`, `remote_thr`, `local_lat`,
/// `remote_lat`, `inproc_thr`, `inproc_lat`), compiled on first use with
/// `g++ -O2` and cached under `<target>/libzmq-perf/`; rebuilt when
/// `libzmq.a` is newer than the cached binary.
pub fn perf_tool(name: &str) -> Result<PathBuf, String> {
    let out_dir = target_dir().join("libzmq-perf");
    let binary = out_dir.join(name);
    let lib = libzmq_a()?;
    let modified = |p: &Path| p.metadata().and_then(|m| m.modified()).ok();
    let lib_time = modified(&lib).unwrap_or(SystemTime::UNIX_EPOCH);
    if modified(&binary).is_some_and(|t| t >= lib_time) {
        return Ok(binary);
    }
    let vendor = vendored_libzmq()?;
    std::fs::create_dir_all(&out_dir).map_err(|e| e.to_string())?;
    let source = vendor.join("perf").join(format!("{name}.cpp"));
    let status = Command::new(std::env::var("CXX").unwrap_or_else(|_| "g++".into()))
        .arg("-O2")
        .arg("-DZMQ_STATIC")
        .arg("-I")
        .arg(vendor.join("include"))
        .arg(&source)
        .arg(&lib)
        .args(["-lpthread", "-lstdc++", "-lrt"])
        .arg("-o")
        .arg(&binary)
        .status()
        .map_err(|e| format!("g++: {e}"))?;
    if !status.success() {
        return Err(format!("building {} failed", source.display()));
    }
    Ok(binary)
}

/// Where a child process runs: pinned to one CPU, or wherever the
/// scheduler puts it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Placement {
    Pinned(usize),
    Unpinned,
}

/// Starts `command` with stdout piped, pinned as asked before `exec` (so
/// every thread it starts, libzmq's I/O thread included, inherits the pin).
pub fn spawn(mut command: Command, placement: Placement) -> Child {
    command.stdout(Stdio::piped()).stdin(Stdio::null());
    if let Placement::Pinned(cpu) = placement {
        // SAFETY: between fork and exec the closure only calls
        // sched_setaffinity on a stack value, which is async-signal-safe.
        unsafe {
            command.pre_exec(move || {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(cpu, &mut set);
                libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
                Ok(())
            });
        }
    }
    command.spawn().expect("spawn")
}

/// Reads lines from a child's stdout until one starts with `prefix`
/// (returned without it); `None` at end of output.
pub fn read_line_with(stdout: &mut BufReader<ChildStdout>, prefix: &str) -> Option<String> {
    let mut line = String::new();
    loop {
        line.clear();
        if stdout.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if let Some(rest) = line.trim_end().strip_prefix(prefix) {
            return Some(rest.to_string());
        }
    }
}

/// Waits for `child` up to `limit`, killing it after; returns whether it
/// exited by itself.
pub fn wait_or_kill(child: &mut Child, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Ends a child this process started (a sender left blocked after its
/// receiver has finished).
pub fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The rest of a child's stdout.
pub fn rest_of(stdout: &mut BufReader<ChildStdout>) -> String {
    let mut text = String::new();
    let _ = stdout.read_to_string(&mut text);
    text
}

/// The `mean throughput: N [msg/s]` figure of local_thr or inproc_thr.
pub fn parse_thr(output: &str) -> Option<f64> {
    output
        .lines()
        .find(|l| l.starts_with("mean throughput:") && l.contains("[msg/s]"))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())
}

/// remote_lat's `average latency: X [us]`, which is half a round trip.
pub fn parse_lat(output: &str) -> Option<f64> {
    output
        .lines()
        .find(|l| l.starts_with("average latency:"))
        .and_then(|l| l.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())
}

/// `key=value` fields of a line the benchmark's child roles print.
pub fn field(line: &str, key: &str) -> Option<f64> {
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
}

fn clock(id: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer for clock_gettime.
    unsafe { libc::clock_gettime(id, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// CPU time used so far by every thread of this process.
pub fn process_cpu() -> Duration {
    clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// CPU time used so far by the calling thread.
pub fn thread_cpu() -> Duration {
    clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// A window of wall time with the CPU time this process and this thread
/// spent in it: `busy` tells whether the side was the limit (about 1.0 of
/// its CPU) or waited for the far side.
#[derive(Clone, Copy)]
pub struct Window {
    wall: Instant,
    process: Duration,
    thread: Duration,
}

impl Window {
    pub fn start() -> Window {
        Window {
            wall: Instant::now(),
            process: process_cpu(),
            thread: thread_cpu(),
        }
    }

    /// (elapsed, process CPU / wall, calling thread's CPU / wall).
    pub fn stop(&self) -> (Duration, f64, f64) {
        let wall = self.wall.elapsed();
        let secs = wall.as_secs_f64().max(1e-9);
        let process = (process_cpu() - self.process).as_secs_f64() / secs;
        let thread = (thread_cpu() - self.thread).as_secs_f64() / secs;
        (wall, process, thread)
    }
}

/// Raises the soft descriptor limit to the hard one; returns the new soft
/// limit.
pub fn raise_fd_limit() -> u64 {
    // SAFETY: getrlimit/setrlimit with a valid rlimit out-pointer.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur
    }
}

/// A tcp port on 127.0.0.1 that was free a moment ago.
pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A child process whose stdout lines are read on a thread of their own.
pub struct Started {
    pub child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Started {
    /// The first line starting with `prefix` (without it), waiting until
    /// `deadline`; `None` if the child ended or time ran out first.
    pub fn wait_for(&mut self, prefix: &str, deadline: Instant) -> Option<String> {
        loop {
            if let Some(line) = self.seen.iter().find_map(|l| l.strip_prefix(prefix)) {
                return Some(line.to_string());
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            self.seen.push(self.lines.recv_timeout(left).ok()?);
        }
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

/// Starts `command` (see [`spawn`]) with its stdout lines collected.
pub fn launch(command: Command, placement: Placement) -> Started {
    let mut child = spawn(command, placement);
    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Started {
        child,
        lines,
        seen: Vec::new(),
    }
}

/// A `key=value` field of a line whose first field has had its key
/// stripped (`wait_for("result rate=")` leaves `123.4 busy=0.9`).
pub fn first_and(line: &str, first_key: &str, key: &str) -> Option<f64> {
    field(&format!("{first_key}={line}"), key)
}
