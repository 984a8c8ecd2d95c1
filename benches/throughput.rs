//! Throughput: PUSH→PULL and PUB→SUB at 1 B, 100 B and 64 KiB over tcp,
//! ipc and inproc, with the reactor receiving (`on_pull`, and any other
//! receive callback listed in `RECEIVE_APIS`) and sending (a
//! `ZmqPushConnection` through its outbox), each against libzmq's own perf
//! tools and a plain rust-zmq loop, in the same run.
//!
//!     cargo bench --bench throughput [-- --quick] [-- --filter tcp_1B]
//!
//! Every receive row is driven by a sender faster than the receiver under
//! test, and every send row drains into a receiver that keeps up:
//!
//! - two processes (tcp, ipc): libzmq's `remote_thr` sends; the receivers
//!   are the reactor, libzmq's `local_thr` and a rust-zmq loop, each a
//!   process of its own. Send rows: the reactor, `remote_thr` and a rust-zmq
//!   loop each send to `local_thr`. PUB→SUB: a rust-zmq XPUB process
//!   publishes (libzmq has no PUB perf tool).
//! - same context (tcp, ipc, inproc): one process, the sender a thread in
//!   the receiver's ZeroMQ context (so one I/O thread serves both ends);
//!   over inproc libzmq's `inproc_thr` is the raw pair.
//!
//! Each configuration runs pinned (sender on CPU 0, receiver on CPU 1, every
//! thread of a side inheriting its pin) and unpinned, the receivers in
//! alternating order for several rounds; rows give medians and ranges.
//!
//! Receivers time themselves from their first message to their last (as
//! `local_thr` does) and measure how busy their side was in that window (CPU
//! time of the side's threads, the side's I/O thread included, over wall
//! time). A row is marked `sender-bound` (send rows: `receiver-bound`) and
//! prints no ratio when the far side was the limit: our side ran as fast as
//! the fastest contestant against the same far side (so no run shows the far
//! side could go faster) while below 90 % busy (it waited). A side that is
//! slower than another contestant against the same far side is the limit,
//! busy or not (waiting on its own wake-ups counts against it).
//!
//! libzmq's perf tools are compiled from the libzmq source that `zeromq-src`
//! vendors, against the `libzmq.a` that zmq-sys built for this profile, and
//! cached under `target/libzmq-perf/`. Senders are asked for twice the
//! messages receivers count (libzmq 4.3.4 drops an ipc sender's in-flight
//! messages when it closes right after sending) and are ended once the
//! receiver is done.

use std::io::Write;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use tx0mq::connections::{
    ZmqCtx, ZmqEndpoint, ZmqFactory, ZmqOptions, ZmqPullConnection, ZmqPushConnection,
    ZmqSubConnection,
};
use tx0mq::Reactor;

mod common;
use common::procs::{self, Placement, Started, Window};
use common::{ipc_endpoint, pin_to_cpu, Options, Spread};

/// The CPU the sending side runs on, and the receiving side's.
const SENDER_CPU: usize = 0;
const RECEIVER_CPU: usize = 1;

/// A side that used less of its CPU than this waited for the far side.
const BUSY: f64 = 0.9;

/// What a receiving child counts in: its state while the reactor runs.
#[derive(Default)]
struct Count {
    seen: usize,
    n: usize,
    window: Option<Window>,
    result: Option<(Duration, f64, f64)>,
}

impl Count {
    /// Counts one message; true once the last has arrived.
    fn tick(&mut self) -> bool {
        self.seen += 1;
        if self.seen == 1 {
            self.window = Some(Window::start());
        }
        if self.seen == self.n {
            self.result = self.window.map(|w| w.stop());
            return true;
        }
        false
    }
}

/// Counts a message in a reactor receiver; stops the reactor at the last.
fn counted(cx: &mut ZmqCtx<'_, Count, ZmqPullConnection<Count>>) {
    if cx.state.tick() {
        let _ = cx.reactor.stop();
    }
}

/// How a `ZmqPullConnection` hands messages over. Each entry is a name for
/// the rows and a function installing the receive callback; a new receive
/// API is one more line here.
type InstallPull = fn(&ZmqPullConnection<Count>);
const RECEIVE_APIS: &[(&str, InstallPull)] = &[
    ("on_pull", |pull| pull.on_pull(|cx, _message| counted(cx))),
    ("on_frames", |pull| {
        pull.on_frames(|cx, _frames| counted(cx))
    }),
    // Each frame copied into one 64 KiB buffer (pyzmq's recv_into); a
    // message counts at its last frame.
    ("on_recv_into", |pull| {
        pull.on_recv_into(vec![0; 64 * 1024], |cx, frame| {
            if !frame.more() {
                counted(cx)
            }
        })
    }),
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Transport {
    Tcp,
    Ipc,
    Inproc,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Ipc => "ipc",
            Transport::Inproc => "inproc",
        }
    }

    /// A fresh endpoint to bind and connect to.
    fn endpoint(self, tag: &str) -> String {
        match self {
            Transport::Tcp => format!("tcp://127.0.0.1:{}", procs::free_tcp_port()),
            Transport::Ipc => ipc_endpoint(tag),
            Transport::Inproc => format!("inproc://bench-{tag}"),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Pattern {
    PushPull,
    PubSub,
}

impl Pattern {
    fn name(self) -> &'static str {
        match self {
            Pattern::PushPull => "pushpull",
            Pattern::PubSub => "pubsub",
        }
    }
}

fn size_name(size: usize) -> String {
    match size {
        s if s >= 1024 && s % 1024 == 0 => format!("{}KiB", s / 1024),
        s => format!("{s}B"),
    }
}

/// What senders send beyond what receivers count: as many again, so that
/// a sender is still sending (or blocked at its high-water mark) when the
/// receiver finishes. `remote_thr` closes its socket after its last send,
/// and libzmq 4.3.4 then drops thousands of in-flight messages over ipc.
fn slack(n: usize) -> usize {
    n
}

/// The txZMQ PUB frame: tag, NUL, body.
fn pub_frame(size: usize) -> Vec<u8> {
    let mut frame = b"t\0".to_vec();
    frame.extend(std::iter::repeat_n(7u8, size));
    frame
}

// ---------------------------------------------------------------------------
// Child roles: `throughput --role NAME key value ...`.

struct Args(Vec<String>);

impl Args {
    fn get(&self, key: &str) -> String {
        self.0
            .iter()
            .position(|a| a == key)
            .and_then(|i| self.0.get(i + 1))
            .cloned()
            .unwrap_or_else(|| panic!("missing {key}"))
    }

    fn num(&self, key: &str) -> usize {
        self.get(key).parse().expect("number")
    }
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// In same-context mode, a sender thread in `context`, pinned when asked:
/// PUSH connecting to `endpoint`, or XPUB binding it and publishing once
/// the subscription is in. Never closes its socket; the process exits
/// around it.
fn sender_thread(
    context: zmq::Context,
    pattern: Pattern,
    endpoint: String,
    size: usize,
    total: usize,
    pinned: bool,
    bound: std::sync::mpsc::Sender<()>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        if pinned {
            pin_to_cpu(SENDER_CPU);
        }
        match pattern {
            Pattern::PushPull => {
                let push = context.socket(zmq::PUSH).expect("socket");
                push.set_reconnect_ivl(10).expect("ivl");
                push.connect(&endpoint).expect("connect");
                let _ = bound.send(());
                let payload = vec![7u8; size];
                for _ in 0..total {
                    push.send(&payload[..], 0).expect("send");
                }
                std::mem::forget(push);
            }
            Pattern::PubSub => {
                let xpub = context.socket(zmq::XPUB).expect("socket");
                xpub.set_sndhwm(0).expect("hwm");
                xpub.bind(&endpoint).expect("bind");
                let _ = bound.send(());
                let mut subscription = zmq::Message::new();
                xpub.recv(&mut subscription, 0).expect("subscription");
                let frame = pub_frame(size);
                for _ in 0..total {
                    xpub.send(&frame[..], 0).expect("send");
                }
                std::mem::forget(xpub);
            }
        }
    })
}

/// CPU time a thread of this process has used so far.
fn cpu_of(thread: &thread::JoinHandle<()>) -> Duration {
    use std::os::unix::thread::JoinHandleExt;
    let mut clock: libc::clockid_t = 0;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: the thread has not been joined, so its pthread_t is valid;
    // both out-pointers are valid.
    unsafe {
        if libc::pthread_getcpuclockid(thread.as_pthread_t(), &mut clock) != 0 {
            return Duration::ZERO;
        }
        libc::clock_gettime(clock, &mut ts);
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Prints a receiver's result line: rate, and how busy its side was
/// (process CPU less any sender thread's, over wall time).
fn report_receive(n: usize, result: (Duration, f64, f64), sender_cpu: Duration) {
    let (wall, process, thread) = result;
    let side = process - sender_cpu.as_secs_f64() / wall.as_secs_f64().max(1e-9);
    say(&format!(
        "result rate={:.1} busy={:.3} thread={:.3}",
        (n - 1) as f64 / wall.as_secs_f64(),
        side,
        thread
    ));
}

/// `--role recv`: a reactor receiver (`--api NAME`, or `rust` for a plain
/// rust-zmq loop) for `--pattern`, two-process or same-context.
fn role_receive(args: &Args) {
    let api = args.get("--api");
    let pattern = match args.get("--pattern").as_str() {
        "pubsub" => Pattern::PubSub,
        _ => Pattern::PushPull,
    };
    let endpoint = args.get("--endpoint");
    let size = args.num("--size");
    let n = args.num("--count");
    let same_context = args.get("--mode") == "ctx";
    let pinned = args.get("--pin") == "1";
    if pinned {
        pin_to_cpu(RECEIVER_CPU);
    }
    let total = n + slack(n);
    let (bound_tx, bound_rx) = std::sync::mpsc::channel();
    if api == "rust" {
        let context = zmq::Context::new();
        // Same context: the sender thread binds first for PUB→SUB.
        let sender = same_context.then(|| {
            sender_thread(
                context.clone(),
                pattern,
                endpoint.clone(),
                size,
                total,
                pinned,
                bound_tx,
            )
        });
        if sender.is_some() && pattern == Pattern::PubSub {
            bound_rx.recv().expect("bound");
        }
        let socket = match pattern {
            Pattern::PushPull => {
                let pull = context.socket(zmq::PULL).expect("socket");
                pull.bind(&endpoint).expect("bind");
                pull
            }
            Pattern::PubSub => {
                let sub = context.socket(zmq::SUB).expect("socket");
                sub.set_rcvhwm(0).expect("hwm");
                sub.set_reconnect_ivl(10).expect("ivl");
                sub.connect(&endpoint).expect("connect");
                sub.set_subscribe(b"t").expect("subscribe");
                sub
            }
        };
        say("ready");
        let mut msg = zmq::Message::new();
        socket.recv(&mut msg, 0).expect("recv");
        let window = Window::start();
        let before = sender.as_ref().map(cpu_of).unwrap_or_default();
        let mut bytes = 0usize;
        for _ in 1..n {
            socket.recv(&mut msg, 0).expect("recv");
            if pattern == Pattern::PubSub {
                // Split off the tag, as txZMQ's gotMessage does.
                if let Some(at) = msg.iter().position(|&b| b == 0) {
                    bytes += msg.len() - at;
                }
            }
        }
        let result = window.stop();
        let after = sender.as_ref().map(cpu_of).unwrap_or_default();
        std::hint::black_box(bytes);
        report_receive(n, result, after.saturating_sub(before));
        std::process::exit(0);
    }
    let reactor = Reactor::builder()
        .state(Count {
            n,
            ..Count::default()
        })
        .handle_signals(false)
        .build()
        .expect("reactor");
    let context = zmq::Context::new();
    let factory = ZmqFactory::with_context(&reactor, context.clone());
    let sender = same_context.then(|| {
        sender_thread(
            context,
            pattern,
            endpoint.clone(),
            size,
            total,
            pinned,
            bound_tx,
        )
    });
    if sender.is_some() && pattern == Pattern::PubSub {
        bound_rx.recv().expect("bound");
    }
    // Kept alive until the process exits.
    let _connection: Box<dyn std::any::Any> = match pattern {
        Pattern::PushPull => {
            let pull =
                ZmqPullConnection::new(&factory, ZmqEndpoint::bind(&endpoint)).expect("pull");
            let install = RECEIVE_APIS
                .iter()
                .find(|(name, _)| *name == api)
                .unwrap_or_else(|| panic!("no receive API {api}"))
                .1;
            install(&pull);
            Box::new(pull)
        }
        Pattern::PubSub => {
            let sub = ZmqSubConnection::with_options(
                &factory,
                ZmqEndpoint::connect(&endpoint),
                &ZmqOptions::new()
                    .high_water_mark(0)
                    .reconnect_ivl(Duration::from_millis(10)),
            )
            .expect("sub");
            sub.subscribe(b"t").expect("subscribe");
            sub.got_message(|cx, _message, _tag| {
                if cx.state.tick() {
                    let _ = cx.reactor.stop();
                }
            });
            Box::new(sub)
        }
    };
    say("ready");
    // The sender thread's CPU time is sampled around the run; its share
    // before the first message is small next to the window.
    let before = sender.as_ref().map(cpu_of).unwrap_or_default();
    reactor.run().expect("run");
    let after = sender.as_ref().map(cpu_of).unwrap_or_default();
    let result = reactor
        .access_state(|c| c.result)
        .expect("state")
        .expect("result");
    report_receive(n, result, after.saturating_sub(before));
    std::process::exit(0);
}

/// `--role send`: a sender (`--api reactor`: a `ZmqPushConnection` driven
/// as a pull producer through its outbox; `rust`: a blocking rust-zmq loop)
/// connecting to `--endpoint`, or, same-context, to a raw PULL in its own
/// context whose thread reports the rate. Prints its busy share of the send
/// phase, then waits to be ended.
fn role_send(args: &Args) {
    let api = args.get("--api");
    let endpoint = args.get("--endpoint");
    let size = args.num("--size");
    let n = args.num("--count");
    let same_context = args.get("--mode") == "ctx";
    let pinned = args.get("--pin") == "1";
    if pinned {
        pin_to_cpu(SENDER_CPU);
    }
    let total = n + slack(n);
    let payload = vec![7u8; size];
    // Same context: a raw receiving thread in the sender's context.
    let receiver = |context: zmq::Context| {
        let endpoint = endpoint.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let join = thread::spawn(move || {
            if pinned {
                pin_to_cpu(RECEIVER_CPU);
            }
            let pull = context.socket(zmq::PULL).expect("socket");
            pull.bind(&endpoint).expect("bind");
            let _ = ready_tx.send(());
            let mut msg = zmq::Message::new();
            pull.recv(&mut msg, 0).expect("recv");
            let started = std::time::Instant::now();
            for _ in 1..n {
                pull.recv(&mut msg, 0).expect("recv");
            }
            let elapsed = started.elapsed();
            say(&format!(
                "received rate={:.1}",
                (n - 1) as f64 / elapsed.as_secs_f64()
            ));
            std::mem::forget(pull);
        });
        ready_rx.recv().expect("ready");
        join
    };
    if api == "rust" {
        let context = zmq::Context::new();
        let _receiver = same_context.then(|| receiver(context.clone()));
        let push = context.socket(zmq::PUSH).expect("socket");
        push.connect(&endpoint).expect("connect");
        say("ready");
        let window = Window::start();
        for _ in 0..n {
            push.send(&payload[..], 0).expect("send");
        }
        let (_, busy, thread) = window.stop();
        say(&format!("result busy={busy:.3} thread={thread:.3}"));
        for _ in n..total {
            push.send(&payload[..], 0).expect("send");
        }
        std::thread::sleep(Duration::from_secs(3600));
        return;
    }
    let reactor = Reactor::builder()
        .state((0usize, None::<Window>))
        .handle_signals(false)
        .build()
        .expect("reactor");
    let context = zmq::Context::new();
    let factory = ZmqFactory::with_context(&reactor, context.clone());
    let _receiver = same_context.then(|| receiver(context));
    let push = ZmqPushConnection::with_options(
        &factory,
        ZmqEndpoint::connect(&endpoint),
        &ZmqOptions::new().outbox_limit(total),
    )
    .expect("push");
    say("ready");
    // A pull producer: asked for more on every pass while the outbox is
    // empty, not called while libzmq pushes back.
    push.produce_with(move |cx| {
        let (sent, window) = &mut *cx.state;
        for _ in 0..4096 {
            if *sent == 0 {
                *window = Some(Window::start());
            }
            if *sent == n {
                // What the receiver counts has been handed over.
                if let Some((_, busy, thread)) = window.map(|w| w.stop()) {
                    say(&format!("result busy={busy:.3} thread={thread:.3}"));
                }
            }
            if *sent == total {
                cx.conn.unregister_producer();
                return;
            }
            if cx.conn.push(&payload[..]).is_err() {
                return;
            }
            *sent += 1;
            if cx.conn.outbox_len() > 0 {
                return;
            }
        }
    })
    .expect("producer");
    reactor.run().expect("run");
}

/// `--role pub`: a rust-zmq XPUB process binding `--endpoint`, publishing
/// once the subscription is in.
fn role_pub(args: &Args) {
    let endpoint = args.get("--endpoint");
    let size = args.num("--size");
    let total = args.num("--count") + slack(args.num("--count"));
    let context = zmq::Context::new();
    let xpub = context.socket(zmq::XPUB).expect("socket");
    xpub.set_sndhwm(0).expect("hwm");
    xpub.bind(&endpoint).expect("bind");
    say("ready");
    let mut subscription = zmq::Message::new();
    xpub.recv(&mut subscription, 0).expect("subscription");
    let frame = pub_frame(size);
    for _ in 0..total {
        xpub.send(&frame[..], 0).expect("send");
    }
    std::thread::sleep(Duration::from_secs(3600));
}

// ---------------------------------------------------------------------------
// The parent: runs the children and gathers the rows.

/// One side of a run: this benchmark in a child role, or a libzmq tool.
#[derive(Clone)]
enum Side {
    Ours(Vec<String>),
    Tool(&'static str, Vec<String>),
}

impl Side {
    fn command(&self) -> Option<Command> {
        match self {
            Side::Ours(args) => {
                let mut command = Command::new(std::env::current_exe().ok()?);
                command.arg("--role").args(args);
                Some(command)
            }
            Side::Tool(name, args) => match procs::perf_tool(name) {
                Ok(path) => {
                    let mut command = Command::new(path);
                    command.args(args);
                    Some(command)
                }
                Err(e) => {
                    eprintln!("{name} unavailable: {e}");
                    None
                }
            },
        }
    }
}

/// One run's figures: the rate the receiver measured and how busy the side
/// under test was (NaN where unknown).
#[derive(Clone, Copy)]
struct Sample {
    rate: f64,
    busy: f64,
}

const FAILED: Sample = Sample {
    rate: f64::NAN,
    busy: f64::NAN,
};

fn start(side: &Side, placement: Placement, first: bool) -> Option<Started> {
    let mut started = procs::launch(side.command()?, placement);
    match side {
        Side::Ours(_) => {
            started.wait_for("ready", Instant::now() + Duration::from_secs(10))?;
        }
        // A tool binds within a few milliseconds of starting.
        Side::Tool(..) if first => thread::sleep(Duration::from_millis(30)),
        Side::Tool(..) => {}
    }
    Some(started)
}

/// The rate a receiver reported: ours (`result rate=..`) or a libzmq tool's.
fn rate_of(started: &mut Started, deadline: Instant) -> Option<(f64, f64)> {
    let line = started.wait_for("result rate=", deadline).or_else(|| {
        started
            .seen
            .iter()
            .find(|l| l.starts_with("mean throughput:") && l.contains("[msg/s]"))
            .cloned()
    });
    let line = line?;
    if let Some(rate) = procs::parse_thr(&line) {
        return Some((rate, f64::NAN));
    }
    let line = format!("rate={line}");
    Some((
        procs::field(&line, "rate")?,
        procs::field(&line, "busy").unwrap_or(f64::NAN),
    ))
}

/// Runs a two-process pair: `first` is started (and bound) first; the
/// receiver's rate and the busy share of the side under test come back.
fn run_pair(
    first: &Side,
    second: &Side,
    first_receives: bool,
    pinned: bool,
    limit: Duration,
) -> Sample {
    let place = |receiving: bool| match (pinned, receiving) {
        (false, _) => Placement::Unpinned,
        (true, true) => Placement::Pinned(RECEIVER_CPU),
        (true, false) => Placement::Pinned(SENDER_CPU),
    };
    let Some(mut a) = start(first, place(first_receives), true) else {
        return FAILED;
    };
    let Some(mut b) = start(second, place(!first_receives), false) else {
        return FAILED;
    };
    let (receiver, sender) = if first_receives {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    let deadline = Instant::now() + limit;
    // A libzmq tool prints when it exits; ours print a result line.
    let rate = match receiver.wait_for("result rate=", deadline) {
        Some(line) => {
            let line = format!("rate={line}");
            procs::field(&line, "rate")
                .map(|r| (r, procs::field(&line, "busy").unwrap_or(f64::NAN)))
        }
        None => {
            let _ = receiver.wait_for("mean throughput:", Instant::now() + Duration::from_secs(1));
            rate_of(receiver, Instant::now())
        }
    };
    let Some((rate, receiver_busy)) = rate else {
        eprintln!("  run failed or timed out");
        return FAILED;
    };
    // When the receiver is a libzmq tool, the side under test is the
    // sender: its busy share, reported once it had sent what was counted.
    let busy = if receiver_busy.is_finite() {
        receiver_busy
    } else {
        sender
            .wait_for("result busy=", Instant::now() + Duration::from_secs(1))
            .and_then(|l| procs::field(&format!("busy={l}"), "busy"))
            .unwrap_or(f64::NAN)
    };
    Sample { rate, busy }
}

/// Runs one process alone (same-context roles, inproc_thr).
fn run_alone(side: &Side, limit: Duration) -> Sample {
    let Some(mut child) = start(side, Placement::Unpinned, false) else {
        return FAILED;
    };
    let deadline = Instant::now() + limit;
    if let Side::Tool(..) = side {
        let _ = child.wait_for("mean throughput:", deadline);
        return rate_of(&mut child, Instant::now())
            .map_or(FAILED, |(rate, busy)| Sample { rate, busy });
    }
    // Receive roles print `result rate=.. busy=..`; send roles print their
    // own `result busy=..` and their receiving thread's `received rate=..`.
    if let Some((rate, busy)) = child
        .wait_for("result rate=", deadline)
        .map(|l| format!("rate={l}"))
        .and_then(|l| {
            Some((
                procs::field(&l, "rate")?,
                procs::field(&l, "busy").unwrap_or(f64::NAN),
            ))
        })
    {
        return Sample { rate, busy };
    }
    FAILED
}

/// Same-context send roles: the rate their receiving thread saw and the
/// sender's busy share.
fn run_alone_send(side: &Side, limit: Duration) -> Sample {
    let Some(mut child) = start(side, Placement::Unpinned, false) else {
        return FAILED;
    };
    let deadline = Instant::now() + limit;
    let rate = child
        .wait_for("received rate=", deadline)
        .and_then(|l| procs::field(&format!("rate={l}"), "rate"));
    let busy = child
        .wait_for("result busy=", Instant::now() + Duration::from_secs(1))
        .and_then(|l| procs::field(&format!("busy={l}"), "busy"));
    match rate {
        Some(rate) => Sample {
            rate,
            busy: busy.unwrap_or(f64::NAN),
        },
        None => FAILED,
    }
}

/// The measured row: the side under test, the libzmq pair and the rust-zmq
/// loop, each as median and range over the rounds.
struct Row {
    name: String,
    ours: Spread,
    libzmq: Option<Spread>,
    rust: Spread,
    busy: Spread,
    /// What limited the rate when our side was not busy.
    far_side: &'static str,
    /// Whether the libzmq pair ran against the same far side as ours
    /// (`inproc_thr` brings its own sender).
    pair_shares_far_side: bool,
}

impl Row {
    /// The far side was the limit when our side kept pace with the fastest
    /// contestant against the same far side (so nothing shows the far side
    /// could go faster) and still had CPU to spare.
    fn bound(&self) -> Option<&'static str> {
        let best = self
            .libzmq
            .filter(|_| self.pair_shares_far_side)
            .map_or(f64::NAN, |s| s.median)
            .max(self.rust.median);
        let kept_pace = !best.is_finite() || self.ours.median >= 0.95 * best;
        let idle = self.busy.median.is_finite() && self.busy.median < BUSY;
        (kept_pace && idle).then_some(self.far_side)
    }

    fn ratio(&self, against: Option<Spread>) -> String {
        match (self.bound(), against) {
            (Some(bound), _) => bound.to_string(),
            (None, Some(raw)) if raw.runs > 0 && self.ours.runs > 0 => {
                format!("{:.3}", self.ours.median / raw.median)
            }
            _ => "-".into(),
        }
    }
}

fn print_rows(rows: &[Row]) {
    println!();
    println!("## Throughput (messages/s, median (min–max))");
    println!();
    println!("| measurement | reactor | libzmq pair | rust-zmq | vs libzmq | vs rust-zmq | busy |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.2} |",
            row.name,
            row.ours.show(),
            row.libzmq.map_or("-".into(), |s| s.show()),
            row.rust.show(),
            row.ratio(row.libzmq),
            row.ratio(Some(row.rust)),
            row.busy.median
        );
    }
    println!();
    for row in rows {
        let raw = row.libzmq.unwrap_or(row.rust);
        println!(
            "BENCH {} reactor={:.1} raw={:.1} ratio={} unit=msg/s reactor_min={:.1} reactor_max={:.1} raw_min={:.1} raw_max={:.1} rust={:.1} ratio_rust={} busy={:.3}",
            row.name,
            row.ours.median,
            raw.median,
            row.ratio(Some(raw)),
            row.ours.min,
            row.ours.max,
            raw.min,
            raw.max,
            row.rust.median,
            row.ratio(Some(row.rust)),
            row.busy.median,
        );
    }
}

/// Runs one row's contestants alternately (the libzmq pair when the row has
/// one), prints the row and returns it. `far_side` says what limited the
/// rate when ours kept pace while under-busy.
fn measure(
    name: String,
    rounds_n: usize,
    ours: &mut dyn FnMut() -> Sample,
    libzmq: Option<&mut dyn FnMut() -> Sample>,
    rust: &mut dyn FnMut() -> Sample,
    far_side: &'static str,
    pair_shares_far_side: bool,
) -> Row {
    let with_pair = libzmq.is_some();
    let samples = match libzmq {
        Some(libzmq) => rounds(rounds_n, &mut [ours, libzmq, rust]),
        None => {
            let mut s = rounds(rounds_n, &mut [ours, rust]);
            s.insert(1, Vec::new());
            s
        }
    };
    let row = Row {
        name,
        ours: spread(&samples[0], |s| s.rate),
        libzmq: with_pair.then(|| spread(&samples[1], |s| s.rate)),
        rust: spread(&samples[2], |s| s.rate),
        busy: spread(&samples[0], |s| s.busy),
        far_side,
        pair_shares_far_side,
    };
    eprintln!(
        "{}: reactor {} libzmq {} rust {} busy {:.2}",
        row.name,
        row.ours.show(),
        row.libzmq.map_or("-".into(), |s| s.show()),
        row.rust.show(),
        row.busy.median
    );
    row
}

/// Runs the contestants of one row alternately for `rounds`, rotating
/// which goes first.
fn rounds(rounds: usize, contestants: &mut [&mut dyn FnMut() -> Sample]) -> Vec<Vec<Sample>> {
    let k = contestants.len();
    let mut samples = vec![Vec::new(); k];
    for round in 0..rounds {
        for i in 0..k {
            let j = (i + round) % k;
            samples[j].push((contestants[j])());
        }
    }
    samples
}

fn spread(samples: &[Sample], pick: fn(&Sample) -> f64) -> Spread {
    Spread::of(&samples.iter().map(pick).collect::<Vec<_>>())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--role") {
        let role = args.get(1).cloned().unwrap_or_default();
        let args = Args(args);
        match role.as_str() {
            "recv" => role_receive(&args),
            "send" => role_send(&args),
            "pub" => role_pub(&args),
            other => panic!("unknown role {other}"),
        }
        return;
    }
    let options = Options::from_args();
    let limit = Duration::from_secs(if options.quick { 30 } else { 120 });
    let sizes = [1usize, 100, 65536];
    let count = |size: usize| match size {
        1 | 100 => options.pick(2_000_000, 200_000),
        _ => options.pick(20_000, 2_000),
    };
    let placements = [true, false];
    let mut rows: Vec<Row> = Vec::new();
    let mut chart: Vec<(String, usize, f64, f64)> = Vec::new();
    let tag = std::cell::Cell::new(0usize);
    let endpoint = |transport: Transport| {
        tag.set(tag.get() + 1);
        transport.endpoint(&format!("t{}", tag.get()))
    };
    let role = |role: &str,
                api: &str,
                pattern: Pattern,
                endpoint: &str,
                size: usize,
                n: usize,
                ctx: bool,
                pin: bool| {
        Side::Ours(
            [
                role,
                "--api",
                api,
                "--pattern",
                pattern.name(),
                "--endpoint",
                endpoint,
                "--size",
                &size.to_string(),
                "--count",
                &n.to_string(),
                "--mode",
                if ctx { "ctx" } else { "2proc" },
                "--pin",
                if pin { "1" } else { "0" },
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        )
    };
    let place_name = |pinned: bool| if pinned { "pinned" } else { "unpinned" };

    // Two processes: receive rows.
    for pattern in [Pattern::PushPull, Pattern::PubSub] {
        for transport in [Transport::Tcp, Transport::Ipc] {
            for size in sizes {
                let n = count(size);
                for pinned in placements {
                    for (api, _) in RECEIVE_APIS.iter().take(if pattern == Pattern::PubSub {
                        1
                    } else {
                        usize::MAX
                    }) {
                        let api_name = if pattern == Pattern::PubSub {
                            "got_message"
                        } else {
                            api
                        };
                        let name = format!(
                            "{}_{}_{}_recv_{api_name}_2proc_{}",
                            pattern.name(),
                            transport.name(),
                            size_name(size),
                            place_name(pinned)
                        );
                        if !options.wants(&name) {
                            continue;
                        }
                        let total = (n + slack(n)).to_string();
                        let sizes_s = size.to_string();
                        // The receiving side `api` (ours, or "rust") against the far side.
                        let receive_with = |api: &str| {
                            let e = endpoint(transport);
                            match pattern {
                                Pattern::PushPull => run_pair(
                                    &role("recv", api, pattern, &e, size, n, false, pinned),
                                    &Side::Tool(
                                        "remote_thr",
                                        vec![e.clone(), sizes_s.clone(), total.clone()],
                                    ),
                                    true,
                                    pinned,
                                    limit,
                                ),
                                Pattern::PubSub => run_pair(
                                    &role("pub", "rust", pattern, &e, size, n, false, pinned),
                                    &role("recv", api, pattern, &e, size, n, false, pinned),
                                    false,
                                    pinned,
                                    limit,
                                ),
                            }
                        };
                        let mut libzmq = || {
                            let e = endpoint(transport);
                            run_pair(
                                &Side::Tool(
                                    "local_thr",
                                    vec![e.clone(), sizes_s.clone(), n.to_string()],
                                ),
                                &Side::Tool(
                                    "remote_thr",
                                    vec![e.clone(), sizes_s.clone(), total.clone()],
                                ),
                                true,
                                pinned,
                                limit,
                            )
                        };
                        let mut ours = || receive_with(api);
                        let mut rust = || receive_with("rust");
                        let pushpull = pattern == Pattern::PushPull;
                        let row = measure(
                            name,
                            options.rounds,
                            &mut ours,
                            if pushpull { Some(&mut libzmq) } else { None },
                            &mut rust,
                            "sender-bound",
                            true,
                        );
                        if pattern == Pattern::PushPull && pinned && *api == "on_pull" {
                            if let Some(raw) = row.libzmq {
                                chart.push((
                                    transport.name().into(),
                                    size,
                                    row.ours.median,
                                    raw.median,
                                ));
                            }
                        }
                        rows.push(row);
                    }
                }
            }
        }
    }

    // Same context: receive rows (the sender a thread in the receiver's
    // context); inproc_thr is the raw pair over inproc.
    for pattern in [Pattern::PushPull, Pattern::PubSub] {
        for transport in [Transport::Tcp, Transport::Ipc, Transport::Inproc] {
            if pattern == Pattern::PubSub && transport != Transport::Inproc {
                continue;
            }
            for size in sizes {
                let n = count(size);
                for pinned in placements {
                    let api = if pattern == Pattern::PubSub {
                        "got_message"
                    } else {
                        "on_pull"
                    };
                    let apis: Vec<&str> = if pattern == Pattern::PubSub {
                        vec!["on_pull"]
                    } else {
                        RECEIVE_APIS.iter().map(|(a, _)| *a).collect()
                    };
                    for api_key in apis {
                        let api_name = if pattern == Pattern::PubSub {
                            api
                        } else {
                            api_key
                        };
                        let name = format!(
                            "{}_{}_{}_recv_{api_name}_ctx_{}",
                            pattern.name(),
                            transport.name(),
                            size_name(size),
                            place_name(pinned)
                        );
                        if !options.wants(&name) {
                            continue;
                        }
                        // The receiving side `api` (ours, or "rust"), a
                        // thread in the sender's context.
                        let receive_with = |api: &str| {
                            run_alone(
                                &role(
                                    "recv",
                                    api,
                                    pattern,
                                    &endpoint(transport),
                                    size,
                                    n,
                                    true,
                                    pinned,
                                ),
                                limit,
                            )
                        };
                        let mut ours = || receive_with(api_key);
                        let mut rust = || receive_with("rust");
                        let with_pair =
                            transport == Transport::Inproc && pattern == Pattern::PushPull;
                        let mut libzmq = || {
                            run_alone(
                                &Side::Tool("inproc_thr", vec![size.to_string(), n.to_string()]),
                                limit,
                            )
                        };
                        let row = measure(
                            name,
                            options.rounds,
                            &mut ours,
                            if with_pair { Some(&mut libzmq) } else { None },
                            &mut rust,
                            "sender-bound",
                            !with_pair,
                        );
                        if transport == Transport::Inproc && pattern == Pattern::PushPull && pinned
                        {
                            if let Some(raw) = row.libzmq {
                                chart.push((
                                    transport.name().into(),
                                    size,
                                    row.ours.median,
                                    raw.median,
                                ));
                            }
                        }
                        rows.push(row);
                    }
                }
            }
        }
    }

    // Send rows: into local_thr (two processes), or into a raw PULL thread
    // in the sender's context over inproc.
    for transport in [Transport::Tcp, Transport::Ipc, Transport::Inproc] {
        for size in sizes {
            let n = count(size);
            for pinned in placements {
                let ctx = transport == Transport::Inproc;
                let name = format!(
                    "pushpull_{}_{}_send_outbox_{}_{}",
                    transport.name(),
                    size_name(size),
                    if ctx { "ctx" } else { "2proc" },
                    place_name(pinned)
                );
                if !options.wants(&name) {
                    continue;
                }
                let total = (n + slack(n)).to_string();
                let sizes_s = size.to_string();
                let into_local_thr = |sender: Side, e: &str| {
                    run_pair(
                        &Side::Tool(
                            "local_thr",
                            vec![e.to_string(), sizes_s.clone(), n.to_string()],
                        ),
                        &sender,
                        true,
                        pinned,
                        limit,
                    )
                };
                let mut ours = || {
                    let e = endpoint(transport);
                    if ctx {
                        run_alone_send(
                            &role(
                                "send",
                                "reactor",
                                Pattern::PushPull,
                                &e,
                                size,
                                n,
                                true,
                                pinned,
                            ),
                            limit,
                        )
                    } else {
                        into_local_thr(
                            role(
                                "send",
                                "reactor",
                                Pattern::PushPull,
                                &e,
                                size,
                                n,
                                false,
                                pinned,
                            ),
                            &e,
                        )
                    }
                };
                let mut libzmq = || {
                    let e = endpoint(transport);
                    into_local_thr(
                        Side::Tool(
                            "remote_thr",
                            vec![e.clone(), sizes_s.clone(), total.clone()],
                        ),
                        &e,
                    )
                };
                let mut rust = || {
                    let e = endpoint(transport);
                    if ctx {
                        run_alone_send(
                            &role("send", "rust", Pattern::PushPull, &e, size, n, true, pinned),
                            limit,
                        )
                    } else {
                        into_local_thr(
                            role(
                                "send",
                                "rust",
                                Pattern::PushPull,
                                &e,
                                size,
                                n,
                                false,
                                pinned,
                            ),
                            &e,
                        )
                    }
                };
                let row = measure(
                    name,
                    options.rounds,
                    &mut ours,
                    if ctx { None } else { Some(&mut libzmq) },
                    &mut rust,
                    "receiver-bound",
                    true,
                );
                rows.push(row);
            }
        }
    }

    print_rows(&rows);
    if !chart.is_empty() {
        match chart::draw(&chart, "target/throughput.svg") {
            Ok(()) => println!("\nchart: target/throughput.svg"),
            Err(e) => eprintln!("chart not drawn: {e}"),
        }
    }
}

mod chart {
    use plotters::prelude::*;

    /// Receive rate against message size, reactor (`on_pull`) and libzmq's
    /// pair, one colour per transport (pinned runs).
    pub fn draw(
        points: &[(String, usize, f64, f64)],
        path: &str,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
        root.fill(&WHITE)?;
        let max = points.iter().map(|p| p.2.max(p.3)).fold(1.0, f64::max) * 1.5;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "PUSH→PULL receive path: messages/s by message size (pinned)",
                ("sans-serif", 22),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d((1f64..65536f64).log_scale(), (1e3f64..max).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("message size (bytes)")
            .y_desc("messages/s")
            .draw()?;
        let palette = [RED, BLUE, GREEN];
        for (i, transport) in ["tcp", "ipc", "inproc"].iter().enumerate() {
            let color = palette[i % palette.len()];
            let series: Vec<&(String, usize, f64, f64)> =
                points.iter().filter(|p| p.0 == *transport).collect();
            if series.is_empty() {
                continue;
            }
            chart
                .draw_series(LineSeries::new(
                    series.iter().map(|p| (p.1 as f64, p.2)),
                    color.stroke_width(2),
                ))?
                .label(format!("{transport} reactor"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            let raw = if *transport == "inproc" {
                "inproc_thr"
            } else {
                "local_thr"
            };
            chart
                .draw_series(LineSeries::new(
                    series.iter().map(|p| (p.1 as f64, p.3)),
                    color.stroke_width(1),
                ))?
                .label(format!("{transport} {raw}"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(1))
                });
        }
        chart
            .configure_series_labels()
            .border_style(BLACK)
            .background_style(WHITE)
            .draw()?;
        root.present()?;
        Ok(())
    }
}
