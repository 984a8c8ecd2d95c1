//! What the examples share (not an example itself).
//!
//! - [`main`]: every example's `main`. It parses the command line into the
//!   example's `Args` (clap), runs the example with them, and turns the
//!   outcome into the exit status: 0, 1 for an error at run time, 2 for a
//!   bad flag or value. `--help` prints the flags and their defaults.
//! - [`millis`]: the one spelling of a duration on the command line, a whole
//!   number of milliseconds (flags named `--*-ms`).
//! - [`Method`]: txZMQ's `--method bind|connect` (`ZmqEndpoint(method, address)`).
//! - Python 3's print formats that the ports reproduce: `repr(float)`
//!   ([`float_repr`]), `repr(str)` ([`str_repr`]), a list of bytes
//!   ([`bytes_list_repr`]) or of strings ([`str_list_repr`]). Bytes alone use
//!   the library's `bytes_repr`.
//! - What the originals take from Python's standard library: `time.time()`
//!   ([`time_time`]), `logging`'s `%(asctime)s` lines ([`log`], [`timestamp`]), `random` ([`Random`], repeatable with a seed), `socket.gethostname()`
//!   ([`hostname`]), and `logging` as pyzmq's security examples set it up
//!   ([`Logging`]).
//! - What pyzmq's security examples share: [`house`] (their flags, the
//!   key directories, the CURVE options, the authenticator as they start it,
//!   and the tests they run).
//!
//! - [`monitor`]: pyzmq's prints of monitor events (the ports of pyzmq's
//!   `examples/monitoring`).
//!
//! Each example includes it with `mod pyport;` and uses only part of it.
#![allow(dead_code)]

pub mod monitor;

use std::error::Error;
use std::fmt::Write as _;
use std::num::ParseIntError;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;
use tx0mq::connections::{bytes_repr, Frame, ZmqEndpoint};

pub mod house;

/// The example's name, as its usage and its error messages show it.
const PROGRAM: &str = env!("CARGO_CRATE_NAME");

/// Runs an example: sets up logging (`RUST_LOG`), parses the command line
/// into `A`, calls `run` with it, and returns the exit status. `--help`
/// prints the flags and exits 0; a bad flag or value prints
/// `NAME: error: ...` and exits 2; an error from `run` prints `NAME: ...`
/// and exits 1. Nothing here panics on user input.
pub fn main<A: Parser>(run: impl FnOnce(A) -> Result<(), Box<dyn Error>>) -> ExitCode {
    env_logger::init();
    match run(parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{PROGRAM}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The process's arguments as an `A`, or the exit that clap's verdict calls
/// for (help on stdout with status 0, a usage error on stderr with status 2).
/// A value such as `-1` is taken as a value (and refused as a count or a
/// duration, saying why), not as an unknown flag.
fn parse<A: Parser>() -> A {
    let mut command = A::command()
        .name(PROGRAM)
        .bin_name(PROGRAM)
        .mut_args(|arg| {
            let takes_value = arg.get_action().takes_values();
            arg.allow_negative_numbers(takes_value)
        });
    let parsed = command
        .try_get_matches_from_mut(std::env::args_os())
        .and_then(|mut matches| A::from_arg_matches_mut(&mut matches));
    match parsed {
        Ok(args) => args,
        Err(e) if e.use_stderr() => {
            let e = e.format(&mut command);
            eprint!("{PROGRAM}: {e}");
            std::process::exit(e.exit_code());
        }
        Err(e) => e.exit(),
    }
}

/// Runs the reactor with the coroutines spawned on it (the originals'
/// `asyncio.run(asyncio.wait([...]))`), printing each one that fails:
/// `coroutine failed: ...` on stderr, the others go on.
pub fn run_coroutines(
    reactor: &tx0mq::Reactor,
    tasks: impl IntoIterator<Item = tx0mq::Deferred<()>>,
) -> Result<(), Box<dyn Error>> {
    for task in tasks {
        task.add_errback(|failure| {
            eprintln!("coroutine failed: {failure}");
            Ok(())
        });
    }
    reactor.run()?;
    Ok(())
}

/// A duration flag's value: a whole number of milliseconds (`1000` is one
/// second). Every duration flag of every example is spelled this way and
/// named `--*-ms`: `#[arg(long = "delay-ms", value_parser = pyport::millis)]`.
pub fn millis(value: &str) -> Result<Duration, ParseIntError> {
    value.parse().map(Duration::from_millis)
}

/// txZMQ's `ZmqEndpoint(method, address)`: whether to bind or connect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    Bind,
    Connect,
}

impl Method {
    /// The endpoint to bind or connect `address`.
    pub fn endpoint(self, address: String) -> ZmqEndpoint {
        match self {
            Method::Bind => ZmqEndpoint::bind(address),
            Method::Connect => ZmqEndpoint::connect(address),
        }
    }
}

/// The first frame of a message (empty if there is none), as Python's
/// `socket.recv()` returns it.
pub fn first(message: &[Frame]) -> &[u8] {
    message.first().map_or(&[], |frame| &frame[..])
}

/// `repr(x)` for a Python float: the shortest text that reads back as `x`,
/// with `.0` on whole numbers and Python's exponent form outside
/// `1e-4 <= |x| < 1e16`.
pub fn float_repr(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_string();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    let magnitude = x.abs();
    if magnitude != 0.0 && !(1e-4..1e16).contains(&magnitude) {
        // Rust: "1.5e-5"; Python: "1.5e-05".
        let text = format!("{x:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let (sign, digits) = match exponent.strip_prefix('-') {
            Some(digits) => ('-', digits),
            None => ('+', exponent),
        };
        return format!("{mantissa}e{sign}{digits:0>2}");
    }
    let text = format!("{x}");
    if text.contains('.') {
        text
    } else {
        text + ".0"
    }
}

/// `repr(s)` for a Python `str`: single quotes unless the text has a single
/// quote and no double quote; backslash escapes for control characters.
pub fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// `repr(list_of_bytes)`: `[b'a', b'b']`.
pub fn bytes_list_repr<T: std::ops::Deref<Target = [u8]>>(items: &[T]) -> String {
    let items: Vec<String> = items.iter().map(|i| bytes_repr(i)).collect();
    format!("[{}]", items.join(", "))
}

/// `repr(list_of_str)`: `['a', 'b']`.
pub fn str_list_repr<T: AsRef<str>>(items: &[T]) -> String {
    let items: Vec<String> = items.iter().map(|i| str_repr(i.as_ref())).collect();
    format!("[{}]", items.join(", "))
}

/// Python's `time.time()`: seconds since the Unix epoch, as a float.
pub fn time_time() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// A log line as the originals' `logging.basicConfig(format="%(asctime)s
/// %(message)s", datefmt="%Y-%m-%d %H:%M:%S")` writes it:
/// `2026-01-31 12:00:00 I: message`. The time is UTC (Python's is local
/// time). The line goes to stdout, as every port's log lines do, so that it
/// keeps its place among the printed lines.
pub fn log(message: impl std::fmt::Display) {
    println!("{} {message}", timestamp(SystemTime::now()));
}

/// `%Y-%m-%d %H:%M:%S` of `at`, in UTC.
pub fn timestamp(at: SystemTime) -> String {
    let secs = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Python's `socket.gethostname()`.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string())
}

/// A small pseudo-random generator (xorshift64*), seeded from the clock and
/// the process id ([`new`](Self::new)) or from a number
/// ([`seeded`](Self::seeded), the `--seed` flags), for what the originals
/// take from Python's `random`. It does not draw Python's numbers: a seed
/// repeats a port's run, not the original's.
#[derive(Debug, Clone)]
pub struct Random(u64);

impl Random {
    /// A generator seeded from the clock and the process id (`random.seed()`).
    pub fn new() -> Self {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let seed = nanos ^ (u64::from(std::process::id()) << 32) ^ 0x9e37_79b9_7f4a_7c15;
        Random(seed.max(1))
    }

    /// A generator that always draws the same numbers for the same `seed`
    /// (`random.seed(n)`): the ports' `--seed` flag, so a test can repeat a
    /// run's simulated crashes. The seed is spread by splitmix64 first, so
    /// that nearby seeds (1, 2, 3) give unrelated sequences.
    pub fn seeded(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Random((z ^ (z >> 31)).max(1))
    }

    /// [`seeded`](Self::seeded) with the seed given, else [`new`](Self::new):
    /// what an optional `--seed` flag asks for.
    pub fn from_seed(seed: Option<u64>) -> Self {
        seed.map_or_else(Self::new, Self::seeded)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Python's `randrange(start, stop)`: `start <= n < stop`.
    pub fn randrange(&mut self, start: i64, stop: i64) -> i64 {
        let span = stop.saturating_sub(start).max(1) as u64;
        start + (self.next_u64() % span) as i64
    }

    /// Python's `random.choice(items)`: one of them, `None` if there is none.
    pub fn choice<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            return None;
        }
        let last = i64::try_from(items.len()).unwrap_or(i64::MAX);
        items.get(usize::try_from(self.randrange(0, last)).unwrap_or(0))
    }

    /// Python's `randint(a, b)`: `a <= n <= b`.
    pub fn randint(&mut self, a: i64, b: i64) -> i64 {
        self.randrange(a, b.saturating_add(1))
    }
}

impl Default for Random {
    fn default() -> Self {
        Self::new()
    }
}

/// Python's `logging` as pyzmq's security examples configure it:
/// `basicConfig(level=DEBUG if "-v" in sys.argv else INFO,
/// format="[%(levelname)s] %(message)s")`. Each call prints one line,
/// `[INFO] message`; debug lines only when `verbose`. The lines go to stdout,
/// as every port's log lines do (`lpclient_async`), so that they interleave
/// with `print`s in order. The library's own log records are not among
/// them: `RUST_LOG` shows those.
#[derive(Clone, Copy, Debug)]
pub struct Logging {
    /// Whether `debug` lines are printed (the originals' `-v`).
    pub verbose: bool,
}

impl Logging {
    /// `logging.debug(message)`.
    pub fn debug(self, message: impl std::fmt::Display) {
        if self.verbose {
            println!("[DEBUG] {message}");
        }
    }

    /// `logging.info(message)`.
    pub fn info(self, message: impl std::fmt::Display) {
        println!("[INFO] {message}");
    }

    /// `logging.error(message)`.
    pub fn error(self, message: impl std::fmt::Display) {
        println!("[ERROR] {message}");
    }

    /// `logging.critical(message)`.
    pub fn critical(self, message: impl std::fmt::Display) {
        println!("[CRITICAL] {message}");
    }
}

/// Listens on `interface:port` with `factory` (Twisted's `listenTCP`) and,
/// for port 0 (the kernel's choice), prints `Listening on ADDRESS`, the line
/// the network examples' tests read to find the port.
pub fn listen_tcp<S: 'static, F: tx0mq::net::ServerFactory<S>>(
    reactor: &tx0mq::Reactor<S>,
    interface: std::net::IpAddr,
    port: u16,
    factory: F,
) -> Result<tx0mq::net::tcp::Port<S>, Box<dyn Error>> {
    use tx0mq::net::ReactorNet;
    let listening = reactor.listen_tcp((interface, port), factory)?;
    if port == 0 {
        println!("Listening on {}", listening.get_host());
    }
    Ok(listening)
}
