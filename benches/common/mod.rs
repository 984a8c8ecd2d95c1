//! Shared pieces of the benchmark programs: options, rounds, medians, and
//! the `BENCH` summary lines.
#![allow(dead_code)]

use std::time::{Duration, Instant};

pub mod procs;

/// Command-line options every benchmark takes.
pub struct Options {
    /// `--quick`: small workloads, for CI and a first look.
    pub quick: bool,
    /// `--rounds N` (default 5; 3 with `--quick`).
    pub rounds: usize,
    /// `--filter TEXT`: only the measurements whose name contains TEXT.
    pub filter: Option<String>,
}

impl Options {
    /// Parses the process arguments (ignoring cargo bench's `--bench`).
    pub fn from_args() -> Options {
        let args: Vec<String> = std::env::args().skip(1).collect();
        let quick = args.iter().any(|a| a == "--quick");
        let value = |flag: &str| {
            args.iter()
                .position(|a| a == flag)
                .and_then(|i| args.get(i + 1))
                .cloned()
        };
        let rounds = value("--rounds")
            .and_then(|v| v.parse().ok())
            .unwrap_or(if quick { 3 } else { 5 });
        Options {
            quick,
            rounds: rounds.max(1),
            filter: value("--filter"),
        }
    }

    /// Whether the measurement `name` should run.
    pub fn wants(&self, name: &str) -> bool {
        self.filter.as_deref().is_none_or(|f| name.contains(f))
    }

    /// `full` normally, `quick` with `--quick`.
    pub fn pick(&self, full: usize, quick: usize) -> usize {
        if self.quick {
            quick
        } else {
            full
        }
    }
}

/// The median of some samples.
pub fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    let n = samples.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        samples[n / 2]
    } else {
        (samples[n / 2 - 1] + samples[n / 2]) / 2.0
    }
}

/// Median and range of some samples (NaNs, from failed runs, left out).
#[derive(Clone, Copy, Debug)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub runs: usize,
}

impl Spread {
    pub fn of(samples: &[f64]) -> Spread {
        let mut good: Vec<f64> = samples.iter().copied().filter(|v| v.is_finite()).collect();
        let runs = good.len();
        let median = median(&mut good);
        Spread {
            median,
            min: good.first().copied().unwrap_or(f64::NAN),
            max: good.last().copied().unwrap_or(f64::NAN),
            runs,
        }
    }

    /// `9.10M (8.80M–9.40M)`.
    pub fn show(&self) -> String {
        if self.runs == 0 {
            return "failed".into();
        }
        format!(
            "{} ({}–{})",
            human(self.median),
            human(self.min),
            human(self.max)
        )
    }
}

/// The `q` quantile (0..=1) of sorted samples.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Runs `reactor` and `raw` alternately for `rounds` rounds and returns the
/// medians of each, so that drift in the machine's load hits both alike.
pub fn alternate(
    rounds: usize,
    mut reactor: impl FnMut() -> f64,
    mut raw: impl FnMut() -> f64,
) -> (f64, f64) {
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for round in 0..rounds {
        // Alternate which goes first, too.
        if round % 2 == 0 {
            ours.push(reactor());
            theirs.push(raw());
        } else {
            theirs.push(raw());
            ours.push(reactor());
        }
    }
    (median(&mut ours), median(&mut theirs))
}

/// One measurement, for the table and the summary line.
pub struct Row {
    pub name: String,
    pub reactor: f64,
    pub raw: f64,
    pub unit: &'static str,
}

impl Row {
    pub fn ratio(&self) -> f64 {
        self.reactor / self.raw
    }
}

/// Prints the readable table, then one `BENCH` line per row.
pub fn report(title: &str, note: &str, rows: &[Row]) {
    println!();
    println!("## {title}");
    if !note.is_empty() {
        println!("{note}");
    }
    println!();
    println!("| measurement | reactor | raw | ratio | unit |");
    println!("|---|---:|---:|---:|---|");
    for row in rows {
        println!(
            "| {} | {} | {} | {:.3} | {} |",
            row.name,
            human(row.reactor),
            human(row.raw),
            row.ratio(),
            row.unit
        );
    }
    println!();
    for row in rows {
        println!(
            "BENCH {} reactor={:.1} raw={:.1} ratio={:.3} unit={}",
            row.name,
            row.reactor,
            row.raw,
            row.ratio(),
            row.unit
        );
    }
}

pub fn human(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.1}")
    }
}

/// Messages per second for `count` messages in `elapsed`.
pub fn rate(count: usize, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64()
}

/// A stopwatch.
pub fn timed(f: impl FnOnce()) -> Duration {
    let started = Instant::now();
    f();
    started.elapsed()
}

/// A unique ipc path for this process and `tag`.
pub fn ipc_endpoint(tag: &str) -> String {
    let dir = std::env::temp_dir();
    format!(
        "ipc://{}/tx0mq-bench-{}-{tag}.ipc",
        dir.display(),
        std::process::id()
    )
}

/// Pins the calling thread to `cpu` (threads it starts later, such as a
/// ZeroMQ context's I/O thread, inherit the pin). Returns whether it took:
/// not on a machine with fewer CPUs, or where the call is refused.
pub fn pin_to_cpu(cpu: usize) -> bool {
    let available = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpu >= available || cpu >= libc::CPU_SETSIZE as usize {
        return false;
    }
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET stays in
    // bounds (checked above); sched_setaffinity reads `size_of` bytes.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// One ZeroMQ context for `sockets` sockets, its limit raised past
/// libzmq's default of 1,023.
pub fn context_for(sockets: usize) -> tx0mq::connections::ZmqContext {
    let max = i32::try_from(sockets + 16).expect("socket count");
    tx0mq::connections::ZmqContext::builder()
        .max_sockets(max)
        .build()
        .expect("context")
}
