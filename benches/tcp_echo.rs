//! TCP echo: the reactor serving Twisted's `Echo` protocol (tx0mq-net; its
//! `data_received` writes the data back) against a hand-written mio echo
//! loop, driven by the same client in the same run.
//!
//!     cargo bench --bench tcp_echo [-- --quick] [-- --filter rtt]
//!
//! The two servers:
//!
//! - **mio**: one thread, one `Poll`, each connection registered once for
//!   reading and writing (edge-triggered, as mio always is). On any event
//!   for a connection it first flushes what the kernel did not take last
//!   time; with nothing left over it reads until `WouldBlock`, writing each
//!   chunk back at once and keeping what a partial write left. While
//!   something is left over it stops reading (the data waits in the kernel)
//!   until a writable edge lets it flush, then reads on. No allocation per
//!   read, no re-registration.
//! - **ours**: a reactor thread with `reactor.listen_tcp(addr, |_| Echo)`,
//!   where `Echo::data_received` calls `cx.transport.write(data)`.
//!
//! Both set `TCP_NODELAY` on every connection they accept. Each server runs
//! on a thread of its own pinned to CPU 1; the client runs on this thread,
//! pinned to CPU 0. Every measurement starts a fresh server.
//!
//! The client's workloads:
//!
//! - `rtt_{1B,1KiB}`: one connection (blocking socket), one message in
//!   flight: write it, read the whole echo back, repeat. p50 and p99 of the
//!   round trip, after a warm-up.
//! - `stream_64KiB`: one connection, the client writing 64 KiB chunks and
//!   reading the echo as it comes (non-blocking, one mio `Poll`), at most
//!   1 MiB in flight. MB/s of data echoed (10^6 bytes).
//! - `conns100_1KiB`: 100 connections at once, each writing 1 KiB at a time
//!   with at most 1 KiB not yet echoed (one message in flight per
//!   connection): a server handling many ready connections per poll. MB/s
//!   echoed.
//!
//! Every echoed byte is checked (a position-dependent pattern, checked at
//! both ends of each read).
//!
//! Each measurement runs `--rounds` times (5; 3 with `--quick`), ours and
//! mio alternating and the order swapped every round; the figures are the
//! medians. Next to each figure the server thread's CPU time over the timed
//! window: `busy` (CPU time over wall time; 1.00 is the server's whole CPU)
//! and the CPU time per unit of work (per round trip, per MiB), so a run in
//! which the client was the limit still shows what each server spent.
//!
//! `--mio-rearm` makes the mio server re-register each connection
//! (`EPOLL_CTL_MOD`) after every event it handles, as the reactor re-arms
//! a level-triggered reader after each call: the difference it makes is
//! what that re-arm costs.
//!
//! `--server ours` (or `mio`) runs one server only, for a profiler
//! (`valgrind --tool=callgrind`, `strace -c -f`); the other's figures are
//! then missing.
//!
//! `ours/mio` is ours divided by mio's figure. `speed` is the ratio the
//! target (0.90) is set on, higher is better: mio's time over ours for
//! latencies and CPU costs, ours over mio's for throughput.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::thread::JoinHandleExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use mio::net::{TcpListener as MioListener, TcpStream as MioStream};
use mio::{Events, Interest, Poll, Token, Waker};
use tx0mq::net::{NetCtx, Protocol, ReactorNet};
use tx0mq::Reactor;

mod common;
use common::{human, median, pin_to_cpu, quantile, Options};

/// The CPU of the client, and of the server under test.
const CLIENT_CPU: usize = 0;
const SERVER_CPU: usize = 1;

/// How long one run may take before it is given up (its figure is NaN).
const RUN_LIMIT: Duration = Duration::from_secs(120);

/// The pattern every client writes: byte `p` of a stream is `p % 251`.
const PATTERN_PERIOD: usize = 251;

// ---------------------------------------------------------------------------
// The servers

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Ours,
    Mio,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Ours => "ours",
            Kind::Mio => "mio",
        }
    }
}

/// Twisted's `Echo`: as soon as any data is received, write it back.
struct Echo;

impl Protocol for Echo {
    fn connection_made(&mut self, cx: &mut NetCtx<'_>) {
        if let Err(e) = cx.transport.set_tcp_nodelay(true) {
            eprintln!("echo: {e}");
        }
    }

    fn data_received(&mut self, cx: &mut NetCtx<'_>, data: &[u8]) {
        if let Err(e) = cx.transport.write(data) {
            eprintln!("echo: {e}");
        }
    }
}

/// A running echo server: its address, how to stop it, and its thread's
/// CPU clock.
struct Server {
    addr: SocketAddr,
    /// Asks the server to stop. Kept until the thread is joined: the mio
    /// server's waker must outlive the wake-up (closing its eventfd would
    /// take the queued event back out of the poll).
    stop: Box<dyn Fn()>,
    clock: libc::clockid_t,
    join: thread::JoinHandle<()>,
}

impl Server {
    fn start(kind: Kind) -> Server {
        let (tx, rx) = mpsc::channel();
        let (addr, stop, join): (SocketAddr, Box<dyn Fn()>, thread::JoinHandle<()>) = match kind {
            Kind::Ours => {
                let join = thread::spawn(move || {
                    pin_to_cpu(SERVER_CPU);
                    let reactor = Reactor::builder()
                        .handle_signals(false)
                        .build()
                        .expect("reactor");
                    let port = reactor.listen_tcp("127.0.0.1:0", |_| Echo).expect("listen");
                    tx.send((port.get_host(), reactor.thread_handle()))
                        .expect("send the address");
                    reactor.run().expect("run");
                });
                let (addr, handle) = rx.recv().expect("the server's address");
                let stop = Box::new(move || {
                    let _ = handle.call_from_thread(|cx| cx.reactor.stop());
                });
                (addr, stop, join)
            }
            Kind::Mio => {
                let poll = Poll::new().expect("poll");
                let waker = Arc::new(Waker::new(poll.registry(), MIO_WAKER).expect("mio waker"));
                let listener =
                    MioListener::bind("127.0.0.1:0".parse().expect("address")).expect("bind");
                let addr = listener.local_addr().expect("address");
                let join = thread::spawn(move || {
                    pin_to_cpu(SERVER_CPU);
                    if let Err(e) = mio_echo(poll, listener) {
                        eprintln!("mio echo server: {e}");
                    }
                });
                let stop = Box::new(move || {
                    let _ = waker.wake();
                });
                (addr, stop, join)
            }
        };
        let clock = thread_clock(&join);
        Server {
            addr,
            stop,
            clock,
            join,
        }
    }

    /// CPU time the server's thread has used so far.
    fn cpu(&self) -> Duration {
        clock_now(self.clock)
    }

    fn stop(self) {
        (self.stop)();
        self.join.join().expect("server thread");
        drop(self.stop);
    }
}

/// The CPU-time clock of another thread of this process.
fn thread_clock(join: &thread::JoinHandle<()>) -> libc::clockid_t {
    let mut clock: libc::clockid_t = 0;
    // SAFETY: the thread is alive (it is joined only in `Server::stop`, after
    // the last read of its clock); `clock` is a valid out-pointer.
    let rc = unsafe { libc::pthread_getcpuclockid(join.as_pthread_t(), &mut clock) };
    assert_eq!(rc, 0, "pthread_getcpuclockid");
    clock
}

fn clock_now(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer for clock_gettime.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

const MIO_LISTENER: Token = Token(usize::MAX - 1);
const MIO_WAKER: Token = Token(usize::MAX - 2);

/// One connection of the mio server: the socket and what the kernel did
/// not take of the last echo (`pending[written..]`).
struct MioConn {
    stream: MioStream,
    pending: Vec<u8>,
    written: usize,
}

impl MioConn {
    /// Writes what is left over; `Ok(true)` once nothing is.
    fn flush(&mut self) -> io::Result<bool> {
        while self.written < self.pending.len() {
            match self.stream.write(&self.pending[self.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.pending.clear();
        self.written = 0;
        Ok(true)
    }

    /// Handles an event: flush, then read until `WouldBlock` and write each
    /// chunk back. `Ok(false)` when the peer closed.
    fn serve(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        loop {
            if !self.flush()? {
                // The kernel's send buffer is full: stop reading until the
                // writable edge.
                return Ok(true);
            }
            let n = match self.stream.read(buf) {
                Ok(0) => return Ok(false),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let mut off = 0;
            while off < n {
                match self.stream.write(&buf[off..n]) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(k) => off += k,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        self.pending.extend_from_slice(&buf[off..n]);
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
}

/// `--mio-rearm`: the mio server re-registers a connection after each event.
static MIO_REARM: AtomicBool = AtomicBool::new(false);

/// The hand-written echo loop, until the waker fires.
fn mio_echo(mut poll: Poll, mut listener: MioListener) -> io::Result<()> {
    let rearm = MIO_REARM.load(Ordering::Relaxed);
    poll.registry()
        .register(&mut listener, MIO_LISTENER, Interest::READABLE)?;
    let mut events = Events::with_capacity(1024);
    let mut conns: Vec<Option<MioConn>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match poll.poll(&mut events, None) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for event in events.iter() {
            match event.token() {
                MIO_WAKER => return Ok(()),
                MIO_LISTENER => loop {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            stream.set_nodelay(true)?;
                            let key = free.pop().unwrap_or_else(|| {
                                conns.push(None);
                                conns.len() - 1
                            });
                            poll.registry().register(
                                &mut stream,
                                Token(key),
                                Interest::READABLE | Interest::WRITABLE,
                            )?;
                            conns[key] = Some(MioConn {
                                stream,
                                pending: Vec::new(),
                                written: 0,
                            });
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                },
                Token(key) => {
                    let Some(conn) = conns.get_mut(key).and_then(Option::as_mut) else {
                        continue;
                    };
                    let keep = match conn.serve(&mut buf) {
                        Ok(keep) => keep,
                        Err(e) => {
                            eprintln!("mio echo server: {e}");
                            false
                        }
                    };
                    if keep && rearm {
                        // What the reactor does for a level-triggered reader
                        // (and a writer, while one is registered).
                        let interest = if conn.pending.is_empty() {
                            Interest::READABLE
                        } else {
                            Interest::READABLE | Interest::WRITABLE
                        };
                        poll.registry()
                            .reregister(&mut conn.stream, Token(key), interest)?;
                    }
                    if !keep {
                        if let Some(mut conn) = conns[key].take() {
                            poll.registry().deregister(&mut conn.stream)?;
                        }
                        free.push(key);
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The client

/// What one run measured: the figure, and the server's CPU time in the
/// timed window.
struct Run {
    /// Round-trip samples in µs, sorted (latency runs).
    samples: Vec<f64>,
    /// Bytes echoed (throughput runs).
    bytes: u64,
    wall: Duration,
    server_cpu: Duration,
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len + PATTERN_PERIOD)
        .map(|i| (i % PATTERN_PERIOD) as u8)
        .collect()
}

/// Whether `data`, found at stream offset `at`, has the pattern's bytes at
/// both ends.
fn matches_pattern(data: &[u8], at: u64) -> bool {
    let expect = |p: u64| (p % PATTERN_PERIOD as u64) as u8;
    match (data.first(), data.last()) {
        (Some(&first), Some(&last)) => {
            first == expect(at) && last == expect(at + data.len() as u64 - 1)
        }
        _ => true,
    }
}

/// Round trips of `size` bytes, one at a time, on one blocking connection.
fn round_trips(server: &Server, size: usize, warmup: usize, n: usize) -> io::Result<Run> {
    let mut stream = TcpStream::connect(server.addr)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(RUN_LIMIT))?;
    let payload: Vec<u8> = pattern(size)[..size].to_vec();
    let mut reply = vec![0u8; size];
    let mut one = |stream: &mut TcpStream| -> io::Result<()> {
        stream.write_all(&payload)?;
        stream.read_exact(&mut reply)?;
        if reply != payload {
            return Err(io::Error::other("the echo differs from what was sent"));
        }
        Ok(())
    };
    for _ in 0..warmup {
        one(&mut stream)?;
    }
    let mut samples = Vec::with_capacity(n);
    let cpu = server.cpu();
    let started = Instant::now();
    for _ in 0..n {
        let t = Instant::now();
        one(&mut stream)?;
        samples.push(t.elapsed().as_secs_f64() * 1e6);
    }
    let wall = started.elapsed();
    let server_cpu = server.cpu().saturating_sub(cpu);
    samples.sort_by(|a, b| a.total_cmp(b));
    Ok(Run {
        samples,
        bytes: (n * size) as u64,
        wall,
        server_cpu,
    })
}

/// One connection of the throughput client: how much it sent and got back.
struct Pumped {
    stream: MioStream,
    sent: u64,
    received: u64,
}

/// `conns` connections at once, each sending `per_conn` bytes in writes of
/// at most `chunk`, with at most `window` bytes not yet echoed; returns
/// when every byte came back.
fn pump(
    server: &Server,
    conns: usize,
    per_conn: u64,
    chunk: usize,
    window: usize,
) -> io::Result<Run> {
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let mut streams = Vec::with_capacity(conns);
    for i in 0..conns {
        let std = TcpStream::connect(server.addr)?;
        std.set_nodelay(true)?;
        std.set_nonblocking(true)?;
        let mut stream = MioStream::from_std(std);
        poll.registry().register(
            &mut stream,
            Token(i),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        streams.push(Pumped {
            stream,
            sent: 0,
            received: 0,
        });
    }
    let source = pattern(chunk.max(window));
    let mut buf = vec![0u8; 64 * 1024];
    let mut done = 0;
    let cpu = server.cpu();
    let started = Instant::now();
    let deadline = started + RUN_LIMIT;
    // The first writes go out before the first poll.
    let mut ready: Vec<usize> = (0..conns).collect();
    while done < conns {
        for &i in &ready {
            let conn = &mut streams[i];
            if conn.received == per_conn {
                continue;
            }
            loop {
                // Write while the window allows.
                while conn.sent < per_conn {
                    let in_flight = (conn.sent - conn.received) as usize;
                    let room = window - in_flight;
                    if room == 0 {
                        break;
                    }
                    let len = room.min(chunk).min((per_conn - conn.sent) as usize);
                    let at = (conn.sent % PATTERN_PERIOD as u64) as usize;
                    match conn.stream.write(&source[at..at + len]) {
                        Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                        Ok(k) => conn.sent += k as u64,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                // Read until WouldBlock.
                let before = conn.received;
                loop {
                    match conn.stream.read(&mut buf) {
                        Ok(0) => return Err(io::Error::other("the server closed the connection")),
                        Ok(k) => {
                            if !matches_pattern(&buf[..k], conn.received) {
                                return Err(io::Error::other(
                                    "the echo differs from what was sent",
                                ));
                            }
                            conn.received += k as u64;
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                if conn.received == per_conn {
                    done += 1;
                    break;
                }
                // Reading opened the window: write again, unless nothing came.
                if conn.received == before {
                    break;
                }
            }
        }
        if done == conns {
            break;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{done} of {conns} connections finished in {RUN_LIMIT:?}"),
            ));
        }
        match poll.poll(&mut events, Some(left)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        ready.clear();
        ready.extend(events.iter().map(|e| e.token().0));
    }
    let wall = started.elapsed();
    let server_cpu = server.cpu().saturating_sub(cpu);
    Ok(Run {
        samples: Vec::new(),
        bytes: per_conn * conns as u64,
        wall,
        server_cpu,
    })
}

// ---------------------------------------------------------------------------
// Measurements

/// A workload, run against a fresh server.
#[derive(Clone, Copy)]
enum Workload {
    RoundTrips {
        size: usize,
        warmup: usize,
        n: usize,
    },
    Pump {
        conns: usize,
        per_conn: u64,
        chunk: usize,
        window: usize,
    },
}

fn run_once(kind: Kind, workload: Workload) -> Option<Run> {
    let server = Server::start(kind);
    let outcome = match workload {
        Workload::RoundTrips { size, warmup, n } => round_trips(&server, size, warmup, n),
        Workload::Pump {
            conns,
            per_conn,
            chunk,
            window,
        } => pump(&server, conns, per_conn, chunk, window),
    };
    // The client's connections are closed (dropped) by now: the server only
    // has to notice and stop.
    server.stop();
    match outcome {
        Ok(run) => Some(run),
        Err(e) => {
            eprintln!("{} server: run failed: {e}", kind.name());
            None
        }
    }
}

/// One row of the table.
struct Row {
    name: String,
    ours: f64,
    mio: f64,
    unit: &'static str,
    higher_is_better: bool,
}

impl Row {
    fn ratio(&self) -> f64 {
        self.ours / self.mio
    }

    /// The ratio the target is set on: higher is better, 1.0 is parity.
    fn speed(&self) -> f64 {
        if self.higher_is_better {
            self.ours / self.mio
        } else {
            self.mio / self.ours
        }
    }
}

/// Medians over rounds of what each run gives.
#[derive(Default)]
struct Collected {
    p50: Vec<f64>,
    p99: Vec<f64>,
    mbps: Vec<f64>,
    busy: Vec<f64>,
    /// Server CPU ns per round trip, or µs per MiB.
    cost: Vec<f64>,
}

impl Collected {
    fn add(&mut self, run: Option<Run>, latency: bool) {
        let Some(run) = run else {
            return;
        };
        let wall = run.wall.as_secs_f64();
        let cpu = run.server_cpu.as_secs_f64();
        self.busy.push(cpu / wall);
        if latency {
            self.p50.push(quantile(&run.samples, 0.5));
            self.p99.push(quantile(&run.samples, 0.99));
            self.cost.push(cpu * 1e9 / run.samples.len().max(1) as f64);
        } else {
            self.mbps.push(run.bytes as f64 / 1e6 / wall);
            self.cost
                .push(cpu * 1e6 / (run.bytes as f64 / (1 << 20) as f64));
        }
    }
}

fn med(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    median(&mut v)
}

fn main() {
    let options = Options::from_args();
    let pinned = pin_to_cpu(CLIENT_CPU);
    eprintln!(
        "client on CPU {CLIENT_CPU}, servers on CPU {SERVER_CPU}: {}",
        if pinned {
            "pinned"
        } else {
            "not pinned (one CPU, or refused)"
        }
    );
    let args: Vec<String> = std::env::args().collect();
    let only = args
        .iter()
        .position(|a| a == "--server")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.as_str());
    if args.iter().any(|a| a == "--mio-rearm") {
        MIO_REARM.store(true, Ordering::Relaxed);
        eprintln!("the mio server re-arms each connection after each event (--mio-rearm)");
    }
    let n = options.pick(50_000, 10_000);
    let stream_bytes = options.pick(2 << 30, 512 << 20) as u64;
    let conns = 100;
    let per_conn = (options.pick(400_000, 100_000) / conns * 1024) as u64;
    let workloads = [
        (
            "rtt_1B",
            Workload::RoundTrips {
                size: 1,
                warmup: n / 10,
                n,
            },
        ),
        (
            "rtt_1KiB",
            Workload::RoundTrips {
                size: 1024,
                warmup: n / 10,
                n,
            },
        ),
        (
            "stream_64KiB",
            Workload::Pump {
                conns: 1,
                per_conn: stream_bytes,
                chunk: 64 << 10,
                window: 1 << 20,
            },
        ),
        (
            "conns100_1KiB",
            Workload::Pump {
                conns,
                per_conn,
                chunk: 1024,
                window: 1024,
            },
        ),
    ];
    let mut rows = Vec::new();
    let mut busy_rows = Vec::new();
    for (name, workload) in workloads {
        if !options.wants(name) {
            continue;
        }
        let latency = matches!(workload, Workload::RoundTrips { .. });
        let (mut ours, mut mio) = (Collected::default(), Collected::default());
        for round in 0..options.rounds {
            let order = if round % 2 == 0 {
                [Kind::Ours, Kind::Mio]
            } else {
                [Kind::Mio, Kind::Ours]
            };
            for kind in order {
                if only.is_some_and(|only| only != kind.name()) {
                    continue;
                }
                let run = run_once(kind, workload);
                match kind {
                    Kind::Ours => ours.add(run, latency),
                    Kind::Mio => mio.add(run, latency),
                }
            }
        }
        let row = |suffix: &str, unit, higher, a: &[f64], b: &[f64]| Row {
            name: format!("{name}_{suffix}"),
            ours: med(a),
            mio: med(b),
            unit,
            higher_is_better: higher,
        };
        if latency {
            rows.push(row("p50", "us", false, &ours.p50, &mio.p50));
            rows.push(row("p99", "us", false, &ours.p99, &mio.p99));
            rows.push(row(
                "server_cpu",
                "ns/round trip",
                false,
                &ours.cost,
                &mio.cost,
            ));
        } else {
            rows.push(row("throughput", "MB/s", true, &ours.mbps, &mio.mbps));
            rows.push(row("server_cpu", "us/MiB", false, &ours.cost, &mio.cost));
        }
        busy_rows.push((name, med(&ours.busy), med(&mio.busy)));
        eprintln!(
            "{name}: done ({} rounds; server busy ours {:.2}, mio {:.2})",
            options.rounds,
            med(&ours.busy),
            med(&mio.busy)
        );
    }
    println!();
    println!("## TCP echo: ours (tx0mq-net Echo) against a hand-written mio echo loop");
    println!(
        "Medians of {} rounds, client pinned to CPU {CLIENT_CPU}, servers to CPU {SERVER_CPU}. \
         speed: the target's ratio, higher is better (mio/ours for times and CPU costs, \
         ours/mio for throughput); target >= 0.90.",
        options.rounds
    );
    if MIO_REARM.load(Ordering::Relaxed) {
        println!("The mio server re-arms each connection after each event (--mio-rearm).");
    }
    println!();
    println!("| measurement | ours | mio | ours/mio | speed | unit |");
    println!("|---|---:|---:|---:|---:|---|");
    for row in &rows {
        println!(
            "| {} | {} | {} | {:.3} | {:.3} | {} |",
            row.name,
            human(row.ours),
            human(row.mio),
            row.ratio(),
            row.speed(),
            row.unit
        );
    }
    println!();
    println!("Server busy (CPU time / wall time in the timed window):");
    println!();
    println!("| workload | ours | mio |");
    println!("|---|---:|---:|");
    for (name, ours, mio) in &busy_rows {
        println!("| {name} | {ours:.2} | {mio:.2} |");
    }
    println!();
    for row in &rows {
        println!(
            "BENCH tcp_echo_{} reactor={:.2} raw={:.2} ratio={:.3} speed={:.3} unit={}",
            row.name,
            row.ours,
            row.mio,
            row.ratio(),
            row.speed(),
            row.unit.replace(' ', "_")
        );
    }
}
