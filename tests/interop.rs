//! Interop with the real Python libraries: txZMQ on Twisted, and plain pyzmq.
//!
//! Each test runs our side in a reactor in the test process and a Python peer
//! (`tests/peers/`) as a child process on loopback TCP, and asserts the exact
//! frames each side received. The peers print one event per line (frames in
//! hex, or in a file when large; see `tests/peers/common.py`); a reader
//! thread hands each line to the reactor with `call_from_thread`, so our side
//! reacts to what the peer says instead of sleeping.
//!
//! The peers run in the virtual environment `scripts/interop-env` makes
//! (`.venv-interop/`, or `$TX0MQ_INTEROP_VENV`), found by
//! `tx0mq_test_support::python`. Without it each test says on stderr that it
//! was skipped and why, and passes; with `TX0MQ_REQUIRE_INTEROP=1` (as
//! `.ci/run` sets) a missing or stale environment fails the test. See
//! `docs/INTEROP.md`.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tx0mq::connections::{
    Frame, Multipart, ZmqDealerConnection, ZmqEndpoint, ZmqFactory, ZmqOptions, ZmqPubConnection,
    ZmqPullConnection, ZmqPushConnection, ZmqRepConnection, ZmqReqConnection,
    ZmqRequestTimeoutError, ZmqRouterConnection, ZmqSubConnection,
};
use tx0mq::{Ctx, Deferred, LoopingCall, Reactor};
use tx0mq_test_support::net::TempDir;
use tx0mq_test_support::process::{Event, Proc, Stdin as Control};
use tx0mq_test_support::python::PythonEnv;
use tx0mq_test_support::python_or_skip;
use tx0mq_test_support::reactor::{reactor, run_with_deadline};

/// How long our side of one test may take before the watchdog fails it.
const WATCHDOG: Duration = Duration::from_secs(60);
/// How long a peer lives at most (it exits by itself after this).
const PEER_DEADLINE: Duration = Duration::from_secs(90);
/// How long to wait for a line the test needs before the reactor runs.
const STARTUP: Duration = Duration::from_secs(30);
/// Wildcard loopback endpoint: the OS picks the port, we read it back.
const ANY_PORT: &str = "tcp://127.0.0.1:*";
/// Ten MiB, the size of the large frames.
const BIG: usize = 10 << 20;

// ---------------------------------------------------------------------------
// Frames as words, and the payloads

/// A frame as the peers write it: lowercase hex, or `-` when empty.
fn hex(frame: &[u8]) -> String {
    if frame.is_empty() {
        return "-".to_string();
    }
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = Vec::with_capacity(frame.len() * 2);
    for &b in frame {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 15)]);
    }
    String::from_utf8(out).unwrap_or_default()
}

/// The frame a peer's word stands for: hex, `-` (empty), or `=NAME`, a
/// large frame the peer wrote to the file NAME in `files`.
fn unword(word: &str, files: &Path) -> Vec<u8> {
    if word == "-" {
        return Vec::new();
    }
    if let Some(name) = word.strip_prefix('=') {
        let path = files.join(name);
        return std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    }
    const BAD: u8 = 0xff;
    let mut value = [BAD; 256];
    for (i, c) in b"0123456789abcdef".iter().enumerate() {
        value[usize::from(*c)] = i as u8;
    }
    let digits = word.as_bytes();
    assert!(digits.len() % 2 == 0, "odd-length hex word {word:?}");
    let mut frame = vec![0u8; digits.len() / 2];
    for (i, byte) in frame.iter_mut().enumerate() {
        let (hi, lo) = (
            value[usize::from(digits[2 * i])],
            value[usize::from(digits[2 * i + 1])],
        );
        assert!(
            hi != BAD && lo != BAD,
            "not a hex word: {}",
            abbreviate(word)
        );
        *byte = hi << 4 | lo;
    }
    frame
}

fn owned(message: &[Frame]) -> Vec<Vec<u8>> {
    message.iter().map(|f| f.to_vec()).collect()
}

fn reversed(frames: &[Vec<u8>]) -> Vec<Vec<u8>> {
    frames.iter().rev().cloned().collect()
}

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

/// Ten MiB that are not all alike, with plenty of `\0` bytes: a 64 KiB
/// block of noise repeated, each copy stamped with its number (so a lost or
/// repeated block shows). Made once per seed.
fn big_frame(seed: u8) -> Vec<u8> {
    static MADE: Mutex<Vec<(u8, Arc<Vec<u8>>)>> = Mutex::new(Vec::new());
    let mut made = MADE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, frame)) = made.iter().find(|(s, _)| *s == seed) {
        return frame.to_vec();
    }
    const BLOCK: usize = 64 << 10;
    let block: Vec<u8> = (0..BLOCK)
        .map(|i| {
            let x = (i as u32).wrapping_mul(2_654_435_761) >> 13;
            if i % 7 == 0 {
                0
            } else {
                (x as u8) ^ seed
            }
        })
        .collect();
    let mut frame = Vec::with_capacity(BIG);
    for n in 0..BIG / BLOCK {
        let start = frame.len();
        frame.extend_from_slice(&block);
        frame[start + 1..start + 5].copy_from_slice(&(n as u32).to_le_bytes());
    }
    made.push((seed, Arc::new(frame.clone())));
    frame
}

fn binary_frame() -> Vec<u8> {
    b"\0bin\0\xff\xfe\x00\x01end\0".to_vec()
}

/// 100 frames, every tenth one empty.
fn hundred_frames() -> Vec<Vec<u8>> {
    (0..100)
        .map(|i| {
            if i % 10 == 0 {
                Vec::new()
            } else {
                format!("part {i}").into_bytes()
            }
        })
        .collect()
}

/// The multipart messages most tests send: one frame, an empty frame,
/// binary, empty frames inside a multipart, UTF-8, 100 frames, 10 MiB alone
/// and inside a multipart.
fn assorted_messages() -> Vec<Frames> {
    vec![
        vec![b("hello")],
        vec![Vec::new()],
        vec![binary_frame()],
        vec![b("a"), Vec::new(), b("c"), Vec::new()],
        vec![b("ünïcødé ☃"), b("天気")],
        hundred_frames(),
        vec![big_frame(0)],
        vec![b("before"), big_frame(0x5a), Vec::new()],
        vec![b("last")],
    ]
}

type Tagged = (Vec<u8>, Vec<u8>);

/// A message as owned frames.
type Frames = Vec<Vec<u8>>;

/// (tag, message) pairs for PUB/SUB: prefix matches and misses, non-ASCII
/// and binary tags, an empty tag, an empty message, `\0` inside a message,
/// and a 10 MiB message.
fn tagged_messages() -> Vec<Tagged> {
    vec![
        (b("weather"), b("sunny")),
        (b("sports"), b("goal")),
        (
            b("weatherman"),
            b("a longer tag: the subscription is a prefix"),
        ),
        (b("wea"), b("shorter than the subscription")),
        (b("météo"), b("ensoleillé")),
        (Vec::new(), b("no tag")),
        (b("weather"), Vec::new()),
        (b("weather"), binary_frame()),
        (b"\xff\xfetag".to_vec(), b("binary tag")),
        (b("天気"), b("晴れ")),
        (b("weather"), big_frame(1)),
        (b("météo"), b("last")),
    ]
}

/// What the subscribers in the PUB/SUB tests subscribe to (besides `sync`).
fn subscriptions() -> Vec<Vec<u8>> {
    vec![b("weather"), b("météo")]
}

fn matching(messages: &[Tagged], prefixes: &[Vec<u8>]) -> Vec<Tagged> {
    messages
        .iter()
        .filter(|(tag, _)| prefixes.iter().any(|p| tag.starts_with(p)))
        .cloned()
        .collect()
}

// ---------------------------------------------------------------------------
// Peers

/// One line a peer printed: an event and its words.
#[derive(Clone, Debug)]
struct Line {
    event: String,
    words: Vec<String>,
    /// Where the peer writes its large frames.
    files: Arc<PathBuf>,
}

impl Line {
    fn parse(text: &str, files: &Arc<PathBuf>) -> Line {
        let mut parts = text.split(' ');
        Line {
            event: parts.next().unwrap_or("").to_string(),
            words: parts.map(str::to_string).collect(),
            files: files.clone(),
        }
    }

    /// The words from `from` on, as frames.
    fn frames(&self, from: usize) -> Frames {
        self.words
            .iter()
            .skip(from)
            .map(|w| unword(w, &self.files))
            .collect()
    }

    fn frame(&self, at: usize) -> Vec<u8> {
        unword(&self.words[at], &self.files)
    }

    fn is_fatal(&self) -> bool {
        matches!(self.event.as_str(), "ERROR" | "DEADLINE" | "EOF")
    }
}

/// A line, shortened for a failure message.
fn abbreviate(text: &str) -> String {
    text.split(' ')
        .map(|w| {
            if w.len() > 48 {
                format!("{}…({} chars)", &w[..40], w.len())
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Clone, Copy, Debug)]
enum Lib {
    Txzmq,
    Pyzmq,
}

/// A Python peer process, its output read as [`Line`]s. Killed when
/// dropped.
struct Peer {
    proc: Proc,
    /// Where the peer writes its large frames.
    files: Arc<PathBuf>,
}

impl Peer {
    fn spawn(env: &PythonEnv, scratch: &Scratch, lib: Lib, mode: &str, args: &[String]) -> Peer {
        let program = match lib {
            Lib::Txzmq => "txzmq_peer.py",
            Lib::Pyzmq => "pyzmq_peer.py",
        };
        let mut all = vec![mode.to_string()];
        all.extend_from_slice(args);
        all.extend([
            "--deadline".to_string(),
            PEER_DEADLINE.as_secs().to_string(),
            "--files".to_string(),
            scratch.0.dir().display().to_string(),
        ]);
        Peer {
            proc: env.run_peer(program, &all),
            files: Arc::new(scratch.0.dir().to_path_buf()),
        }
    }

    fn control(&self) -> Control {
        self.proc.stdin()
    }

    /// Waits (before the reactor runs) for a line with `event`, skipping others.
    fn wait_for(&mut self, event: &str) -> Line {
        let files = self.files.clone();
        let text = self.proc.expect_matching(event, STARTUP, |text| {
            let line = Line::parse(text, &files);
            line.event == event || line.is_fatal()
        });
        let line = Line::parse(&text, &self.files);
        if line.event != event {
            panic!(
                "{}: {} while waiting for {event}\n{}",
                self.proc.name,
                line.event,
                self.proc.diagnostics()
            );
        }
        line
    }

    /// The endpoint a peer that bound to a wildcard reports.
    fn bound_endpoint(&mut self) -> String {
        self.wait_for("BOUND").words[0].clone()
    }

    /// From now on, hands every line to `hook` on the reactor's thread (lines
    /// not yet consumed included). A fatal line (`ERROR`, `DEADLINE`, or the
    /// end of the output, as `EOF`) stops the reactor.
    fn forward<S: 'static>(&self, reactor: &Reactor<S>, hook: fn(&mut Ctx<'_, S>, Line)) {
        let handle = reactor.thread_handle();
        let files = self.files.clone();
        self.proc.forward(move |event| {
            let line = match event {
                Event::Line(text) => Line::parse(&text, &files),
                Event::End => Line::parse("EOF", &files),
            };
            let _ = handle.call_from_thread(move |cx| {
                if line.is_fatal() {
                    let _ = cx.reactor.stop();
                }
                hook(cx, line);
            });
        });
    }

    /// Whether the peer printed `ERROR` or `DEADLINE`.
    fn reported_error(&self) -> bool {
        self.proc
            .transcript()
            .iter()
            .any(|l| l.starts_with("ERROR") || l.starts_with("DEADLINE"))
    }

    /// Closes the peer's input (it quits), waits for it to exit, and checks
    /// it exited 0 without reporting an error.
    fn finish(mut self) {
        self.proc.close_stdin();
        let status = self.proc.wait_timeout(STARTUP);
        let broken = self.reported_error();
        match status {
            Some(status) if status.success() && !broken => {}
            Some(status) => panic!(
                "{} exited with {status} and/or reported an error\n{}",
                self.proc.name,
                self.proc.diagnostics()
            ),
            None => panic!(
                "{} did not exit within {STARTUP:?} after its input closed\n{}",
                self.proc.name,
                self.proc.diagnostics()
            ),
        }
    }
}

/// A scratch directory for script files and large frames, removed when
/// dropped.
struct Scratch(TempDir, Cell<usize>);

impl Scratch {
    fn new(test: &str) -> Scratch {
        Scratch(TempDir::new(&format!("interop-{test}")), Cell::new(0))
    }

    /// Frames as words for a script. Frames over 64 KiB go through a file
    /// (`=NAME`): hex-coding megabytes in an unoptimised test build is slow.
    fn words(&self, frames: &[Vec<u8>]) -> String {
        let words: Vec<String> = frames
            .iter()
            .map(|frame| {
                if frame.len() <= 64 << 10 {
                    return hex(frame);
                }
                let name = format!("in-{}", self.1.get());
                self.1.set(self.1.get() + 1);
                let path = self.0.dir().join(&name);
                std::fs::write(&path, frame)
                    .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
                format!("={name}")
            })
            .collect();
        words.join(" ")
    }

    /// Writes a script (one message per line, frames as words) and returns
    /// `--script PATH` arguments.
    fn script(&self, name: &str, lines: impl IntoIterator<Item = String>) -> Vec<String> {
        let path = self.0.dir().join(name);
        let mut text = String::new();
        for line in lines {
            text.push_str(&line);
            text.push('\n');
        }
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        vec!["--script".to_string(), path.display().to_string()]
    }
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A test reactor (no signal handling, and a failed assertion in a callback
/// fails the test at once) and a factory that shuts down with it.
fn reactor_with<S: 'static>(state: S) -> (Reactor<S>, ZmqFactory<S>) {
    let reactor = reactor(state);
    let factory = ZmqFactory::new(&reactor).expect("make the factory");
    factory.register_for_shutdown();
    (reactor, factory)
}

/// Runs the reactor until the test stops it, failing the test if the
/// watchdog fires first or a peer reports an error.
fn run<S: 'static>(reactor: &Reactor<S>, what: &str, peers: &[&Peer]) -> Duration {
    let report = || {
        peers
            .iter()
            .map(|p| p.proc.diagnostics())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let elapsed = run_with_deadline(reactor, WATCHDOG, what, |_| {
        format!("the watchdog fired\n{}", report())
    });
    for peer in peers {
        let broken = peer.reported_error() || peer.proc.output_ended();
        assert!(!broken, "{what}: {} failed\n{}", peer.proc.name, report());
    }
    elapsed
}

fn report_timing(test: &str, elapsed: Duration) {
    eprintln!(
        "interop test {test}: our reactor ran {:.2} s",
        elapsed.as_secs_f64()
    );
}

/// A message, shortened: each frame's length and first bytes.
fn describe(frames: &[Vec<u8>]) -> String {
    let parts: Vec<String> = frames
        .iter()
        .map(|f| {
            if f.len() > 24 {
                format!("{}…({} bytes)", hex(&f[..16]), f.len())
            } else {
                hex(f)
            }
        })
        .collect();
    format!("[{}]", parts.join(" "))
}

/// Asserts two lists of messages are equal, frame for frame, and says where
/// they differ without printing megabytes.
fn assert_messages(what: &str, got: &[Vec<Vec<u8>>], want: &[Vec<Vec<u8>>]) {
    if got == want {
        return;
    }
    let mut text = format!(
        "{what}: got {} messages, expected {}\n",
        got.len(),
        want.len()
    );
    for i in 0..got.len().max(want.len()) {
        let (g, w) = (got.get(i), want.get(i));
        if g != w {
            let _ = writeln!(
                text,
                "  first difference at message {i}:\n    got      {}\n    expected {}",
                g.map_or("(none)".to_string(), |m| describe(m)),
                w.map_or("(none)".to_string(), |m| describe(m)),
            );
            break;
        }
    }
    let _ = writeln!(text, "  got:");
    for m in got.iter().take(30) {
        let _ = writeln!(text, "    {}", describe(m));
    }
    panic!("{text}");
}

fn tagged_as_frames(messages: &[Tagged]) -> Vec<Frames> {
    messages
        .iter()
        .map(|(t, m)| vec![t.clone(), m.clone()])
        .collect()
}

// ---------------------------------------------------------------------------
// PUB/SUB
//
// ZeroMQ's slow joiner: a subscription reaches the publisher some time after
// the connection is made, and messages published before it are dropped. So
// every PUB/SUB test publishes a probe (tag `sync`) until the subscriber has
// seen one, then the messages under test, then `end` (tag `sync`).

#[derive(Default)]
struct SubSide {
    probed: bool,
    ended: bool,
    got: Vec<Tagged>,
}

struct SubsState {
    subs: Vec<SubSide>,
    go_sent: bool,
    control: Option<Control>,
}

fn on_tagged(
    state: &mut SubsState,
    reactor: &Reactor<SubsState>,
    which: usize,
    message: &[u8],
    tag: &[u8],
) {
    if tag != b"sync" {
        state.subs[which].got.push((tag.to_vec(), message.to_vec()));
        return;
    }
    match message {
        b"probe" => state.subs[which].probed = true,
        b"end" => state.subs[which].ended = true,
        _ => {}
    }
    if !state.go_sent && state.subs.iter().all(|s| s.probed) {
        state.go_sent = true;
        if let Some(control) = &state.control {
            control.send_line("go");
        }
    }
    if state.subs.iter().all(|s| s.ended) {
        let _ = reactor.stop();
    }
}

/// A Python publisher connects to two of our subscribers: one subscribed to
/// everything, one to a few tags (and `sync`). Each gets exactly the
/// messages it subscribed to, tag and message split as txZMQ splits them.
fn their_pub_to_our_subs(test: &str, lib: Lib, messages: Vec<Tagged>) {
    let env = python_or_skip!(test);
    let scratch = Scratch::new(test);
    let (reactor, factory) = reactor_with(SubsState {
        subs: vec![SubSide::default(), SubSide::default()],
        go_sent: false,
        control: None,
    });
    let all = ZmqSubConnection::new(&factory, ZmqEndpoint::bind(ANY_PORT)).expect("bind SUB");
    all.subscribe(b"").expect("subscribe");
    let filtered = ZmqSubConnection::new(&factory, ZmqEndpoint::bind(ANY_PORT)).expect("bind SUB");
    for tag in subscriptions().into_iter().chain([b("sync")]) {
        filtered.subscribe(tag).expect("subscribe");
    }
    for (which, sub) in [&all, &filtered].into_iter().enumerate() {
        sub.got_message(move |cx, message, tag| {
            on_tagged(cx.state, cx.reactor, which, &message, &tag)
        });
    }
    let mut a = args(&[
        "--connect",
        &all.last_endpoint().expect("endpoint"),
        "--connect",
        &filtered.last_endpoint().expect("endpoint"),
    ]);
    a.extend(
        scratch.script(
            "pub",
            messages
                .iter()
                .map(|(t, m)| scratch.words(&[t.clone(), m.clone()])),
        ),
    );
    let peer = Peer::spawn(env, &scratch, lib, "pub", &a);
    reactor
        .access_state(|s| s.control = Some(peer.control()))
        .expect("state");
    peer.forward(&reactor, |_, _| {});
    let elapsed = run(&reactor, test, &[&peer]);
    let (got_all, got_filtered) = reactor
        .access_state(|s| {
            (
                std::mem::take(&mut s.subs[0].got),
                std::mem::take(&mut s.subs[1].got),
            )
        })
        .expect("state");
    assert_messages(
        &format!("{test}: subscribed to everything"),
        &tagged_as_frames(&got_all),
        &tagged_as_frames(&messages),
    );
    assert_messages(
        &format!("{test}: subscribed to some tags"),
        &tagged_as_frames(&got_filtered),
        &tagged_as_frames(&matching(&messages, &subscriptions())),
    );
    peer.finish();
    report_timing(test, elapsed);
}

/// txZMQ's `ZmqPubConnection.publish(message, tag)` (one frame, `tag \0
/// message`) reaches our `ZmqSubConnection` as `got_message(message, tag)`,
/// filtered by tag prefix, with non-ASCII and binary tags, an empty tag, an
/// empty message, `\0` inside a message and a 10 MiB message.
#[test]
fn txzmq_publish_reaches_our_sub_with_tags_and_filtering() {
    their_pub_to_our_subs(
        "txzmq_publish_reaches_our_sub_with_tags_and_filtering",
        Lib::Txzmq,
        tagged_messages(),
    );
}

/// A plain pyzmq PUB sending the two-frame form `[tag, message]` reaches our
/// `ZmqSubConnection` as `got_message(message, tag)`; in that form a tag may
/// even contain `\0`.
#[test]
fn pyzmq_two_frame_publish_reaches_our_sub() {
    let mut messages = tagged_messages();
    messages.insert(
        2,
        (
            b"weather\0inner".to_vec(),
            b("a tag with a NUL: only the two-frame form carries it"),
        ),
    );
    their_pub_to_our_subs(
        "pyzmq_two_frame_publish_reaches_our_sub",
        Lib::Pyzmq,
        messages,
    );
}

struct PubState {
    publisher: Option<ZmqPubConnection<PubState>>,
    probing: Option<LoopingCall<PubState>>,
    messages: Vec<Tagged>,
    published: bool,
    got: Vec<Frames>,
}

/// The peer's view of one message: (tag, message) from txZMQ's `SUB` lines,
/// or split from the raw frame of pyzmq's `MSG` lines; `None` for others.
fn sync_body(line: &Line) -> Option<(Frames, Option<Vec<u8>>)> {
    let frames = match line.event.as_str() {
        "SUB" | "MSG" => line.frames(0),
        _ => return None,
    };
    let sync = match frames.as_slice() {
        [tag, body] if tag.as_slice() == b"sync" => Some(body.clone()),
        [raw] if raw.starts_with(b"sync\0") => Some(raw[5..].to_vec()),
        _ => None,
    };
    Some((frames, sync))
}

fn on_subscriber_line(cx: &mut Ctx<'_, PubState>, line: Line) {
    let Some((frames, sync)) = sync_body(&line) else {
        return;
    };
    let state = &mut *cx.state;
    match sync.as_deref() {
        None => state.got.push(frames),
        Some(b"probe") if !state.published => {
            state.published = true;
            if let Some(probing) = &state.probing {
                let _ = probing.stop();
            }
            if let Some(publisher) = &state.publisher {
                for (tag, message) in &state.messages {
                    publisher.publish(message, tag).expect("publish");
                }
                publisher.publish(b"end", b"sync").expect("publish");
            }
        }
        Some(b"end") => {
            let _ = cx.reactor.stop();
        }
        Some(_) => {}
    }
}

/// Our `ZmqPubConnection.publish` to a Python subscriber with
/// `subscriptions` (hex words); returns what it printed after the probes.
fn our_pub_to_their_sub(
    test: &str,
    env: &PythonEnv,
    lib: Lib,
    subscriptions: &[Vec<u8>],
) -> Vec<Frames> {
    let scratch = Scratch::new(test);
    let messages = tagged_messages();
    let (reactor, factory) = reactor_with(PubState {
        publisher: None,
        probing: None,
        messages,
        published: false,
        got: Vec::new(),
    });
    let publisher = ZmqPubConnection::new(&factory, ZmqEndpoint::bind(ANY_PORT)).expect("bind PUB");
    let mut a = args(&["--connect", &publisher.last_endpoint().expect("endpoint")]);
    for tag in subscriptions {
        a.push("--subscribe".to_string());
        a.push(hex(tag));
    }
    let peer = Peer::spawn(env, &scratch, lib, "sub", &a);
    let probing = LoopingCall::new(&reactor, |cx: &mut Ctx<'_, PubState>| {
        match &cx.state.publisher {
            Some(publisher) => publisher.publish(b"probe", b"sync"),
            None => Ok(()),
        }
    });
    drop(
        probing
            .start(Duration::from_millis(20), true)
            .expect("start probing"),
    );
    reactor
        .access_state(|s| {
            s.publisher = Some(publisher);
            s.probing = Some(probing);
        })
        .expect("state");
    peer.forward(&reactor, on_subscriber_line);
    let elapsed = run(&reactor, test, &[&peer]);
    let got = reactor
        .access_state(|s| std::mem::take(&mut s.got))
        .expect("state");
    peer.finish();
    report_timing(test, elapsed);
    got
}

/// Our `publish(message, tag)` reaches txZMQ's `ZmqSubConnection.gotMessage`
/// as (message, tag), filtered by txZMQ's `subscribe(tag)`.
#[test]
fn our_publish_reaches_txzmq_sub() {
    let test = "our_publish_reaches_txzmq_sub";
    let env = python_or_skip!(test);
    let mut subscribed = subscriptions();
    subscribed.push(b("sync"));
    let got = our_pub_to_their_sub(test, env, Lib::Txzmq, &subscribed);
    assert_messages(
        test,
        &got,
        &tagged_as_frames(&matching(&tagged_messages(), &subscriptions())),
    );
}

/// Our `publish(message, tag)` reaches a plain pyzmq SUB as one frame,
/// `tag \0 message`, and a prefix subscription shorter than the tag
/// ("wea") matches it.
#[test]
fn our_publish_reaches_pyzmq_sub_with_prefix_subscription() {
    let test = "our_publish_reaches_pyzmq_sub_with_prefix_subscription";
    let env = python_or_skip!(test);
    let got = our_pub_to_their_sub(test, env, Lib::Pyzmq, &[b("wea"), b("sync")]);
    let want: Vec<Frames> = matching(&tagged_messages(), &[b("wea")])
        .into_iter()
        .map(|(tag, message)| vec![[tag, b"\0".to_vec(), message].concat()])
        .collect();
    assert_messages(test, &got, &want);
}

// ---------------------------------------------------------------------------
// PUSH/PULL

struct Collected {
    got: Vec<Frames>,
    expected: usize,
}

/// txZMQ's `push` (bytes for one frame, a list for a multipart) reaches our
/// `on_pull` frame for frame: empty frames, binary, UTF-8, 100 frames, 10 MiB.
#[test]
fn txzmq_push_reaches_our_pull() {
    let test = "txzmq_push_reaches_our_pull";
    let env = python_or_skip!(test);
    let scratch = Scratch::new(test);
    let messages = assorted_messages();
    let (reactor, factory) = reactor_with(Collected {
        got: Vec::new(),
        expected: messages.len(),
    });
    let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(ANY_PORT)).expect("bind PULL");
    pull.on_pull(|cx, message| {
        cx.state.got.push(owned(&message));
        if cx.state.got.len() == cx.state.expected {
            let _ = cx.reactor.stop();
        }
    });
    let mut a = args(&["--connect", &pull.last_endpoint().expect("endpoint")]);
    a.extend(scratch.script("push", messages.iter().map(|m| scratch.words(m))));
    let peer = Peer::spawn(env, &scratch, Lib::Txzmq, "push", &a);
    peer.forward(&reactor, |_, _| {});
    let elapsed = run(&reactor, test, &[&peer]);
    let got = reactor
        .access_state(|s| std::mem::take(&mut s.got))
        .expect("state");
    assert_messages(test, &got, &messages);
    peer.finish();
    report_timing(test, elapsed);
}

/// Our `push` reaches txZMQ's `onPull` frame for frame (the peer binds and
/// we connect to the port it reports).
#[test]
fn our_push_reaches_txzmq_pull() {
    let test = "our_push_reaches_txzmq_pull";
    let env = python_or_skip!(test);
    let scratch = Scratch::new(test);
    let messages = assorted_messages();
    let mut peer = Peer::spawn(
        env,
        &scratch,
        Lib::Txzmq,
        "pull",
        &args(&["--bind", ANY_PORT]),
    );
    let endpoint = peer.bound_endpoint();
    let (reactor, factory) = reactor_with(Collected {
        got: Vec::new(),
        expected: messages.len(),
    });
    let push =
        ZmqPushConnection::new(&factory, ZmqEndpoint::connect(endpoint)).expect("connect PUSH");
    for message in &messages {
        push.push(message.clone()).expect("push");
    }
    peer.forward(&reactor, |cx, line| {
        if line.event == "MSG" {
            cx.state.got.push(line.frames(0));
            if cx.state.got.len() == cx.state.expected {
                let _ = cx.reactor.stop();
            }
        }
    });
    let elapsed = run(&reactor, test, &[&peer]);
    let got = reactor
        .access_state(|s| std::mem::take(&mut s.got))
        .expect("state");
    assert_messages(test, &got, &messages);
    peer.finish();
    report_timing(test, elapsed);
}

// ---------------------------------------------------------------------------
// REQ/REP

/// Requests for the REQ/REP tests: `count` of them, each different, among
/// them one with no parts at all, an empty frame, binary, 100 frames, 10 MiB.
fn requests(count: usize, with_zero_parts: bool) -> Vec<Frames> {
    (0..count)
        .map(|i| match i {
            0 if with_zero_parts => Vec::new(),
            0 => vec![b("first")],
            1 => vec![Vec::new()],
            2 => vec![binary_frame()],
            3 => hundred_frames(),
            4 => vec![big_frame(2)],
            5 => vec![b("multi"), Vec::new(), b("ünï ☃")],
            _ => vec![format!("request {i}").into_bytes()],
        })
        .collect()
}

struct OurRep {
    rep: Option<ZmqRepConnection<OurRep>>,
    control: Option<Control>,
    normal: usize,
    /// Every request, as (message id, parts), in arrival order.
    received: Vec<(Vec<u8>, Vec<Vec<u8>>)>,
    /// Normal requests waiting to be answered together, in reverse.
    held: Vec<(Vec<u8>, Vec<Vec<u8>>)>,
    batch_answered: bool,
    late_id: Option<Vec<u8>>,
    late_timed_out: bool,
    late_answered: bool,
    replies: HashMap<String, Vec<Vec<u8>>>,
    timeouts: Vec<String>,
    settled: bool,
}

fn answer_late_request(state: &mut OurRep) {
    if state.late_answered || !state.late_timed_out {
        return;
    }
    let (Some(id), Some(rep), Some(control)) = (&state.late_id, &state.rep, &state.control) else {
        return;
    };
    // The peer gave up on it; this reply must be dropped by txZMQ. Then one
    // more request shows the connection is still in order.
    rep.reply(id, vec![b("too late")]).expect("late reply");
    state.late_answered = true;
    control.send_line(&format!("send {}", hex(b"after")));
}

fn on_txzmq_requester_line(cx: &mut Ctx<'_, OurRep>, line: Line) {
    let state = &mut *cx.state;
    match line.event.as_str() {
        "REPLY" => {
            state.replies.insert(line.words[0].clone(), line.frames(1));
        }
        "TIMEOUT" => {
            state.timeouts.push(line.words[0].clone());
            if line.words[0] == state.normal.to_string() {
                state.late_timed_out = true;
                answer_late_request(state);
            }
        }
        "SETTLED" => state.settled = true,
        _ => {}
    }
    if state.settled && state.replies.contains_key("x0") {
        let _ = cx.reactor.stop();
    }
}

/// txZMQ's `ZmqREQConnection.sendMsg`, 200 requests at once, reaches our
/// REP; we answer them all in reverse order and every Deferred gets its own
/// reply. One request with a 0.3 s timeout is answered only after txZMQ
/// reported `ZmqRequestTimeoutError`: txZMQ drops that late reply, and a
/// request after it still gets the right answer.
#[test]
fn txzmq_concurrent_requests_and_a_timeout_reach_our_rep() {
    let test = "txzmq_concurrent_requests_and_a_timeout_reach_our_rep";
    let env = python_or_skip!(test);
    let scratch = Scratch::new(test);
    const NORMAL: usize = 200;
    let normal = requests(NORMAL, true);
    let (reactor, factory) = reactor_with(OurRep {
        rep: None,
        control: None,
        normal: NORMAL,
        received: Vec::new(),
        held: Vec::new(),
        batch_answered: false,
        late_id: None,
        late_timed_out: false,
        late_answered: false,
        replies: HashMap::new(),
        timeouts: Vec::new(),
        settled: false,
    });
    let rep = ZmqRepConnection::new(&factory, ZmqEndpoint::bind(ANY_PORT)).expect("bind REP");
    rep.got_message(|cx, id, parts| {
        let (id, parts) = (id.to_vec(), owned(&parts));
        let state = &mut *cx.state;
        state.received.push((id.clone(), parts.clone()));
        if parts == [b("late")] {
            state.late_id = Some(id);
            answer_late_request(state);
        } else if state.batch_answered {
            cx.conn.reply(&id, reversed(&parts)).expect("reply");
        } else {
            state.held.push((id, parts));
            if state.held.len() == state.normal {
                for (id, parts) in state.held.drain(..).rev() {
                    cx.conn.reply(&id, reversed(&parts)).expect("reply");
                }
                state.batch_answered = true;
            }
        }
    });
    let mut a = args(&["--connect", &rep.last_endpoint().expect("endpoint")]);
    let lines = normal
        .iter()
        .map(|m| scratch.words(m))
        .chain([format!("@timeout=0.3 {}", hex(b"late"))]);
    a.extend(scratch.script("requests", lines));
    let peer = Peer::spawn(env, &scratch, Lib::Txzmq, "req", &a);
    reactor
        .access_state(|s| {
            s.rep = Some(rep.clone());
            s.control = Some(peer.control());
        })
        .expect("state");
    peer.forward(&reactor, on_txzmq_requester_line);
    let elapsed = run(&reactor, test, &[&peer]);
    let state = reactor
        .access_state(|s| {
            (
                std::mem::take(&mut s.received),
                std::mem::take(&mut s.replies),
                std::mem::take(&mut s.timeouts),
            )
        })
        .expect("state");
    let (received, replies, timeouts) = state;

    // What our REP received: every request, in order, frame for frame.
    let mut sent = normal.clone();
    sent.push(vec![b("late")]);
    sent.push(vec![b("after")]);
    let got: Vec<Frames> = received.iter().map(|(_, parts)| parts.clone()).collect();
    assert_messages(&format!("{test}: requests at our REP"), &got, &sent);
    // txZMQ's ids: 16-byte UUIDs, distinct while requests are in flight.
    assert!(
        received.iter().all(|(id, _)| id.len() == 16),
        "{test}: ids not 16 bytes"
    );
    let in_flight: HashSet<&Vec<u8>> = received[..=NORMAL].iter().map(|(id, _)| id).collect();
    assert_eq!(
        in_flight.len(),
        NORMAL + 1,
        "{test}: ids of concurrent requests repeat"
    );
    // txZMQ returns the id of every reply it gets to a pool and draws the
    // next request's id from it: the request after the batch reuses the id
    // of a request we already answered. Our REP forgot that id when it
    // answered, so the reuse is harmless.
    assert!(
        in_flight.contains(&received[NORMAL + 1].0),
        "{test}: txZMQ no longer reuses request ids; update docs/INTEROP.md"
    );

    // What txZMQ's Deferreds got.
    let got: Vec<Frames> = (0..NORMAL)
        .map(|i| {
            replies
                .get(&i.to_string())
                .cloned()
                .unwrap_or_else(|| vec![b("(no reply)")])
        })
        .collect();
    let want: Vec<Frames> = normal.iter().map(|m| reversed(m)).collect();
    assert_messages(&format!("{test}: replies at txZMQ"), &got, &want);
    assert_eq!(timeouts, [NORMAL.to_string()], "{test}: timeouts");
    assert!(
        !replies.contains_key(&NORMAL.to_string()),
        "{test}: txZMQ delivered the late reply to a timed-out request"
    );
    assert_eq!(
        replies.get("x0"),
        Some(&vec![b("after")]),
        "{test}: the request after the late reply"
    );
    peer.finish();
    report_timing(test, elapsed);
}

type Outcome = Result<Frames, String>;

/// Sends a request on our REQ connection; its outcome (the reply's frames,
/// `Err("timeout")` or another error) reaches `done` on the reactor with
/// the state, as `call_later(0)` hops from a Deferred back to the state.
fn request<S: 'static>(
    reactor: &Reactor<S>,
    req: &ZmqReqConnection<S>,
    label: String,
    frames: Vec<Vec<u8>>,
    timeout: Option<Duration>,
    done: fn(&mut Ctx<'_, S>, String, Outcome),
) {
    let d: Deferred<Multipart> = match timeout {
        Some(timeout) => req.send_msg_with_timeout(frames, timeout),
        None => req.send_msg(frames),
    };
    let (on_reply, on_failure) = (reactor.clone(), reactor.clone());
    let other_label = label.clone();
    d.add_callbacks(
        move |reply: Multipart| {
            let frames = owned(&reply);
            on_reply.call_later(Duration::ZERO, move |cx| done(cx, label, Ok(frames)));
            Ok(Multipart::new())
        },
        move |failure| {
            let why = if failure.is::<ZmqRequestTimeoutError>() {
                "timeout".to_string()
            } else {
                failure.to_string()
            };
            on_failure.call_later(Duration::ZERO, move |cx| done(cx, other_label, Err(why)));
            Ok(Multipart::new())
        },
    );
}

struct OurReq {
    req: Option<ZmqReqConnection<OurReq>>,
    count: usize,
    outcomes: HashMap<String, Outcome>,
    /// What the peer printed for each request it got: (id or routing
    /// envelope, frames).
    peer_got: Vec<Frames>,
    late_reply_sent: bool,
    after_sent: bool,
}

fn our_req_next_step(cx: &mut Ctx<'_, OurReq>) {
    let state = &mut *cx.state;
    let normal_done = (0..state.count).all(|i| state.outcomes.contains_key(&i.to_string()));
    let late_done = state.outcomes.contains_key("late") && state.late_reply_sent;
    if normal_done && late_done && !state.after_sent {
        state.after_sent = true;
        if let Some(req) = state.req.clone() {
            request(
                cx.reactor,
                &req,
                "after".to_string(),
                vec![b("after")],
                None,
                on_outcome,
            );
        }
    }
    // The peer's lines can lag behind its replies: wait for all of them.
    if state.outcomes.contains_key("after") && state.peer_got.len() == state.count + 2 {
        let _ = cx.reactor.stop();
    }
}

fn on_outcome(cx: &mut Ctx<'_, OurReq>, label: String, outcome: Outcome) {
    let previous = cx.state.outcomes.insert(label.clone(), outcome);
    assert!(previous.is_none(), "request {label} settled twice");
    our_req_next_step(cx);
}

/// Our `ZmqReqConnection.send_msg`, 200 requests at once, reaches txZMQ's
/// `ZmqREPConnection.gotMessage(id, *parts)`; each Deferred gets its reply.
/// A request with a 0.3 s timeout fails with `ZmqRequestTimeoutError`, the
/// reply txZMQ sends a second later is dropped, and a request after it works.
#[test]
fn our_concurrent_requests_and_a_timeout_reach_txzmq_rep() {
    let test = "our_concurrent_requests_and_a_timeout_reach_txzmq_rep";
    let env = python_or_skip!(test);
    let scratch = Scratch::new(test);
    const NORMAL: usize = 200;
    let normal = requests(NORMAL, true);
    let mut peer = Peer::spawn(
        env,
        &scratch,
        Lib::Txzmq,
        "rep",
        &args(&["--bind", ANY_PORT, "--late-after", "1.0"]),
    );
    let endpoint = peer.bound_endpoint();
    let (reactor, factory) = reactor_with(OurReq {
        req: None,
        count: NORMAL,
        outcomes: HashMap::new(),
        peer_got: Vec::new(),
        late_reply_sent: false,
        after_sent: false,
    });
    let req = ZmqReqConnection::new(&factory, ZmqEndpoint::connect(endpoint)).expect("connect REQ");
    for (i, frames) in normal.iter().enumerate() {
        request(
            &reactor,
            &req,
            i.to_string(),
            frames.clone(),
            None,
            on_outcome,
        );
    }
    request(
        &reactor,
        &req,
        "late".to_string(),
        vec![b("late")],
        Some(Duration::from_millis(300)),
        on_outcome,
    );
    reactor
        .access_state(|s| s.req = Some(req.clone()))
        .expect("state");
    peer.forward(&reactor, |cx, line| match line.event.as_str() {
        "REQ" => {
            cx.state.peer_got.push(line.frames(0));
            our_req_next_step(cx);
        }
        "LATE" => {
            cx.state.late_reply_sent = true;
            our_req_next_step(cx);
        }
        _ => {}
    });
    let elapsed = run(&reactor, test, &[&peer]);
    let (outcomes, peer_got) = reactor
        .access_state(|s| {
            (
                std::mem::take(&mut s.outcomes),
                std::mem::take(&mut s.peer_got),
            )
        })
        .expect("state");

    // What txZMQ's REP got: (id, parts...) for each request, in order.
    let mut sent = normal.clone();
    sent.push(vec![b("late")]);
    sent.push(vec![b("after")]);
    let parts: Vec<Frames> = peer_got.iter().map(|m| m[1..].to_vec()).collect();
    assert_messages(&format!("{test}: requests at txZMQ"), &parts, &sent);
    let ids: HashSet<&Vec<u8>> = peer_got.iter().map(|m| &m[0]).collect();
    assert_eq!(ids.len(), peer_got.len(), "{test}: our message ids repeat");
    assert!(
        peer_got.iter().all(|m| m[0].len() == 16),
        "{test}: our ids are 16 bytes"
    );

    // What our Deferreds got.
    let got: Vec<Frames> = (0..NORMAL)
        .map(|i| match outcomes.get(&i.to_string()) {
            Some(Ok(frames)) => frames.clone(),
            other => vec![format!("{other:?}").into_bytes()],
        })
        .collect();
    let want: Vec<Frames> = normal.iter().map(|m| reversed(m)).collect();
    assert_messages(&format!("{test}: replies at our REQ"), &got, &want);
    assert_eq!(
        outcomes.get("late"),
        Some(&Err("timeout".to_string())),
        "{test}: the late request"
    );
    assert_eq!(
        outcomes.get("after"),
        Some(&Ok(vec![b("after")])),
        "{test}: the request after it"
    );
    assert_eq!(req.pending_requests(), 0, "{test}: requests still pending");
    peer.finish();
    report_timing(test, elapsed);
}

struct PlainReqState {
    received: Vec<(Vec<u8>, Vec<Vec<u8>>)>,
    replies: Vec<(String, Vec<Vec<u8>>)>,
}

/// A plain pyzmq REQ socket (lockstep, identity set) gets answers from our
/// REP: its routing identity is the message id our REP sees, and the reply
/// reaches it frame for frame.
#[test]
fn pyzmq_req_socket_reaches_our_rep() {
    let test = "pyzmq_req_socket_reaches_our_rep";
    let env = python_or_skip!(test);
    let scratch = Scratch::new(test);
    // A REQ socket cannot send a message of no frames.
    let sent = requests(12, false);
    let identity = b("py-req ☃");
    let (reactor, factory) = reactor_with(PlainReqState {
        received: Vec::new(),
        replies: Vec::new(),
    });
    let rep = ZmqRepConnection::new(&factory, ZmqEndpoint::bind(ANY_PORT)).expect("bind REP");
    rep.got_message(|cx, id, parts| {
        let parts = owned(&parts);
        cx.state.received.push((id.to_vec(), parts.clone()));
        cx.conn.reply(&id, reversed(&parts))
    });
    let mut a = args(&[
        "--connect",
        &rep.last_endpoint().expect("endpoint"),
        "--identity",
        &hex(&identity),
    ]);
    a.extend(scratch.script("requests", sent.iter().map(|m| scratch.words(m))));
    let peer = Peer::spawn(env, &scratch, Lib::Pyzmq, "req", &a);
    peer.forward(&reactor, |cx, line| match line.event.as_str() {
        "REPLY" => cx
            .state
            .replies
            .push((line.words[0].clone(), line.frames(1))),
        "SETTLED" => {
            let _ = cx.reactor.stop();
        }
        _ => {}
    });
    let elapsed = run(&reactor, test, &[&peer]);
    let (received, replies) = reactor
        .access_state(|s| {
            (
                std::mem::take(&mut s.received),
                std::mem::take(&mut s.replies),
            )
        })
        .expect("state");
    let got: Vec<Frames> = received.iter().map(|(_, p)| p.clone()).collect();
    assert_messages(&format!("{test}: requests at our REP"), &got, &sent);
    assert!(
        received.iter().all(|(id, _)| *id == identity),
        "{test}: the message id is not the REQ socket's identity"
    );
    let labels: Vec<String> = replies.iter().map(|(l, _)| l.clone()).collect();
    let in_order: Vec<String> = (0..sent.len()).map(|i| i.to_string()).collect();
    assert_eq!(labels, in_order, "{test}: replies out of order");
    let got: Vec<Frames> = replies.into_iter().map(|(_, f)| f).collect();
    let want: Vec<Frames> = sent.iter().map(|m| reversed(m)).collect();
    assert_messages(&format!("{test}: replies at pyzmq"), &got, &want);
    peer.finish();
    report_timing(test, elapsed);
}

struct ProxiedState {
    received: Vec<Frames>,
    replies: HashMap<String, Frames>,
    at_proxy: Vec<Frames>,
}

/// txZMQ's REQ through a broker hop (a pyzmq ROUTER/DEALER proxy) to our
/// REP: the request arrives with two routing frames before the id, and our
/// reply, routed back through both, reaches the right Deferred.
#[test]
fn txzmq_requests_through_a_pyzmq_proxy_reach_our_rep() {
    let test = "txzmq_requests_through_a_pyzmq_proxy_reach_our_rep";
    let env = python_or_skip!(test);
    let scratch = Scratch::new(test);
    let sent = requests(20, true);
    let (reactor, factory) = reactor_with(ProxiedState {
        received: Vec::new(),
        replies: HashMap::new(),
        at_proxy: Vec::new(),
    });
    let rep = ZmqRepConnection::new(&factory, ZmqEndpoint::bind(ANY_PORT)).expect("bind REP");
    rep.got_message(|cx, id, parts| {
        let parts = owned(&parts);
        cx.state.received.push(parts.clone());
        cx.conn.reply(&id, reversed(&parts))
    });
    let mut proxy = Peer::spawn(
        env,
        &scratch,
        Lib::Pyzmq,
        "proxy",
        &args(&[
            "--bind",
            ANY_PORT,
            "--connect",
            &rep.last_endpoint().expect("endpoint"),
        ]),
    );
    let front = proxy.bound_endpoint();
    let mut a = args(&["--connect", &front]);
    a.extend(scratch.script("requests", sent.iter().map(|m| scratch.words(m))));
    let client = Peer::spawn(env, &scratch, Lib::Txzmq, "req", &a);
    fn all_in(cx: &mut Ctx<'_, ProxiedState>, count: usize) {
        if cx.state.replies.len() == count && cx.state.at_proxy.len() == count {
            let _ = cx.reactor.stop();
        }
    }
    proxy.forward(&reactor, |cx, line| {
        if line.event == "MSG" {
            cx.state.at_proxy.push(line.frames(0));
            all_in(cx, 20);
        }
    });
    client.forward(&reactor, |cx, line| {
        if line.event == "REPLY" {
            cx.state
                .replies
                .insert(line.words[0].clone(), line.frames(1));
            all_in(cx, 20);
        }
    });
    let elapsed = run(&reactor, test, &[&proxy, &client]);
    let (received, replies, at_proxy) = reactor
        .access_state(|s| {
            (
                std::mem::take(&mut s.received),
                std::mem::take(&mut s.replies),
                std::mem::take(&mut s.at_proxy),
            )
        })
        .expect("state");
    // At the proxy's ROUTER: [client routing id, 16-byte id, "", parts...].
    for (i, message) in at_proxy.iter().enumerate() {
        assert!(
            message.len() >= 3 && message[1].len() == 16 && message[2].is_empty(),
            "{test}: request {i} at the proxy: {}",
            describe(message)
        );
    }
    assert_messages(&format!("{test}: requests at our REP"), &received, &sent);
    let got: Vec<Frames> = (0..sent.len())
        .map(|i| replies.get(&i.to_string()).cloned().unwrap_or_default())
        .collect();
    let want: Vec<Frames> = sent.iter().map(|m| reversed(m)).collect();
    assert_messages(&format!("{test}: replies at txZMQ"), &got, &want);
    client.finish();
    proxy.finish();
    report_timing(test, elapsed);
}

/// Our REQ (identity set) to a plain pyzmq ROUTER that answers in txZMQ's
/// envelope: the ROUTER sees `[our identity, 16-byte id, "", parts...]`, and
/// answers given all at once in reverse order reach the right Deferreds.
#[test]
fn our_requests_reach_a_pyzmq_router_answering_in_txzmq_envelope() {
    let test = "our_requests_reach_a_pyzmq_router_answering_in_txzmq_envelope";
    let env = python_or_skip!(test);
    let scratch = Scratch::new(test);
    let sent = requests(50, true);
    let identity = b("rust-req");
    let expect = sent.len().to_string();
    let mut peer = Peer::spawn(
        env,
        &scratch,
        Lib::Pyzmq,
        "router",
        &args(&["--bind", ANY_PORT, "--expect", &expect]),
    );
    let endpoint = peer.bound_endpoint();
    let (reactor, factory) = reactor_with(OurReq {
        req: None,
        count: sent.len(),
        outcomes: HashMap::new(),
        peer_got: Vec::new(),
        late_reply_sent: false,
        after_sent: false,
    });
    let req = ZmqReqConnection::with_options(
        &factory,
        ZmqEndpoint::connect(endpoint),
        &ZmqOptions::new().identity(&identity),
    )
    .expect("connect REQ");
    fn all_in(cx: &mut Ctx<'_, OurReq>) {
        let state = &*cx.state;
        if state.outcomes.len() == state.count && state.peer_got.len() == state.count {
            let _ = cx.reactor.stop();
        }
    }
    fn done(cx: &mut Ctx<'_, OurReq>, label: String, outcome: Outcome) {
        cx.state.outcomes.insert(label, outcome);
        all_in(cx);
    }
    for (i, frames) in sent.iter().enumerate() {
        request(&reactor, &req, i.to_string(), frames.clone(), None, done);
    }
    peer.forward(&reactor, |cx, line| {
        if line.event == "MSG" {
            cx.state.peer_got.push(line.frames(0));
            all_in(cx);
        }
    });
    let elapsed = run(&reactor, test, &[&peer]);
    let (outcomes, peer_got) = reactor
        .access_state(|s| {
            (
                std::mem::take(&mut s.outcomes),
                std::mem::take(&mut s.peer_got),
            )
        })
        .expect("state");
    for (i, message) in peer_got.iter().enumerate() {
        assert!(
            message.len() >= 3
                && message[0] == identity
                && message[1].len() == 16
                && message[2].is_empty(),
            "{test}: request {i} at the ROUTER is not [identity, id, \"\", parts...]: {}",
            describe(message)
        );
    }
    let parts: Vec<Frames> = peer_got.iter().map(|m| m[3..].to_vec()).collect();
    assert_messages(&format!("{test}: requests at the ROUTER"), &parts, &sent);
    let got: Vec<Frames> = (0..sent.len())
        .map(|i| match outcomes.get(&i.to_string()) {
            Some(Ok(frames)) => frames.clone(),
            other => vec![format!("{other:?}").into_bytes()],
        })
        .collect();
    let want: Vec<Frames> = sent.iter().map(|m| reversed(m)).collect();
    assert_messages(&format!("{test}: replies at our REQ"), &got, &want);
    peer.finish();
    report_timing(test, elapsed);
}

// ---------------------------------------------------------------------------
// ROUTER/DEALER

struct Dealers {
    got: Vec<Vec<Frames>>,
    expected: Vec<usize>,
    router_got: Vec<(Vec<u8>, Vec<Vec<u8>>)>,
}

/// Every answer arrived, and the peer's line for every message: its output
/// can lag behind its answers, which travel on another path.
fn dealers_done(state: &Dealers, reactor: &Reactor<Dealers>) {
    let answered = state
        .got
        .iter()
        .zip(&state.expected)
        .all(|(g, e)| g.len() == *e);
    if answered && state.router_got.len() == state.expected.iter().sum::<usize>() {
        let _ = reactor.stop();
    }
}

/// Two of our DEALERs with identities (one non-ASCII) talk to txZMQ's
/// `ZmqRouterConnection`: `gotMessage(sender, *parts)` sees each identity
/// with its own messages, and its `sendMsg`/`sendMultipart(sender, ...)`
/// answers reach the right DEALER.
#[test]
fn our_dealers_with_identities_talk_to_txzmq_router() {
    let test = "our_dealers_with_identities_talk_to_txzmq_router";
    let env = python_or_skip!(test);
    let scratch = Scratch::new(test);
    let identities = [b("rust-a"), b("dealer-β")];
    let sent = [
        assorted_messages(),
        vec![
            vec![b("b one")],
            vec![b("b two"), Vec::new(), b"\0".to_vec()],
        ],
    ];
    let mut peer = Peer::spawn(
        env,
        &scratch,
        Lib::Txzmq,
        "router",
        &args(&["--bind", ANY_PORT]),
    );
    let endpoint = peer.bound_endpoint();
    let (reactor, factory) = reactor_with(Dealers {
        got: vec![Vec::new(), Vec::new()],
        expected: sent.iter().map(Vec::len).collect(),
        router_got: Vec::new(),
    });
    let mut dealers = Vec::new();
    for (which, identity) in identities.iter().enumerate() {
        let dealer = ZmqDealerConnection::with_options(
            &factory,
            ZmqEndpoint::connect(endpoint.clone()),
            &ZmqOptions::new().identity(identity),
        )
        .expect("connect DEALER");
        dealer.got_message(move |cx, parts| {
            cx.state.got[which].push(owned(&parts));
            dealers_done(cx.state, cx.reactor);
        });
        for message in &sent[which] {
            dealer.send_msg(message.clone()).expect("send");
        }
        dealers.push(dealer);
    }
    peer.forward(&reactor, |cx, line| {
        if line.event == "ROUTER" {
            cx.state.router_got.push((line.frame(0), line.frames(1)));
            dealers_done(cx.state, cx.reactor);
        }
    });
    let elapsed = run(&reactor, test, &[&peer]);
    let (got, router_got) = reactor
        .access_state(|s| {
            (
                std::mem::take(&mut s.got),
                std::mem::take(&mut s.router_got),
            )
        })
        .expect("state");
    for (which, identity) in identities.iter().enumerate() {
        let at_router: Vec<Frames> = router_got
            .iter()
            .filter(|(sender, _)| sender == identity)
            .map(|(_, parts)| parts.clone())
            .collect();
        assert_messages(
            &format!("{test}: from dealer {which} at txZMQ's ROUTER"),
            &at_router,
            &sent[which],
        );
        let want: Vec<Frames> = sent[which].iter().map(|m| reversed(m)).collect();
        assert_messages(
            &format!("{test}: answers at our dealer {which}"),
            &got[which],
            &want,
        );
    }
    assert_eq!(
        router_got.len(),
        sent.iter().map(Vec::len).sum::<usize>(),
        "{test}: messages from unknown senders"
    );
    peer.finish();
    report_timing(test, elapsed);
}

/// txZMQ's `ZmqDealerConnection` with an identity talks to our ROUTER: our
/// `got_message(sender, parts)` sees its identity, and our
/// `send_msg(sender, parts)` reaches its `gotMessage(*parts)`.
#[test]
fn txzmq_dealer_with_identity_talks_to_our_router() {
    let test = "txzmq_dealer_with_identity_talks_to_our_router";
    let env = python_or_skip!(test);
    let scratch = Scratch::new(test);
    let identity = b("py-dealer ☃");
    let sent = assorted_messages();
    let (reactor, factory) = reactor_with(Dealers {
        got: vec![Vec::new()],
        expected: vec![sent.len()],
        router_got: Vec::new(),
    });
    let router =
        ZmqRouterConnection::new(&factory, ZmqEndpoint::bind(ANY_PORT)).expect("bind ROUTER");
    router.got_message(|cx, sender, parts| {
        let parts = owned(&parts);
        cx.state.router_got.push((sender.to_vec(), parts.clone()));
        cx.conn.send_msg(&sender, reversed(&parts))
    });
    let mut a = args(&[
        "--connect",
        &router.last_endpoint().expect("endpoint"),
        "--identity",
        &hex(&identity),
    ]);
    a.extend(scratch.script("messages", sent.iter().map(|m| scratch.words(m))));
    let peer = Peer::spawn(env, &scratch, Lib::Txzmq, "dealer", &a);
    peer.forward(&reactor, |cx, line| {
        if line.event == "MSG" {
            cx.state.got[0].push(line.frames(0));
            if cx.state.got[0].len() == cx.state.expected[0] {
                let _ = cx.reactor.stop();
            }
        }
    });
    let elapsed = run(&reactor, test, &[&peer]);
    let (got, router_got) = reactor
        .access_state(|s| {
            (
                std::mem::take(&mut s.got),
                std::mem::take(&mut s.router_got),
            )
        })
        .expect("state");
    assert!(
        router_got.iter().all(|(sender, _)| *sender == identity),
        "{test}: our ROUTER saw another sender than the DEALER's identity"
    );
    let at_router: Vec<Frames> = router_got.into_iter().map(|(_, p)| p).collect();
    assert_messages(&format!("{test}: at our ROUTER"), &at_router, &sent);
    let want: Vec<Frames> = sent.iter().map(|m| reversed(m)).collect();
    assert_messages(
        &format!("{test}: answers at txZMQ's DEALER"),
        &got[0],
        &want,
    );
    peer.finish();
    report_timing(test, elapsed);
}

// ---------------------------------------------------------------------------
// Volume

const VOLUME: usize = 100_000;
/// How many messages we let wait in our outbox before pausing the sender.
const OUTBOX_HIGH: usize = 1_000;

struct Volume {
    dealer: Option<ZmqDealerConnection<Volume>>,
    sent: usize,
    received: usize,
    out_of_order: usize,
    peer_seq: Option<(usize, usize)>,
}

fn pump(cx: &mut Ctx<'_, Volume>) {
    let state = &mut *cx.state;
    let Some(dealer) = state.dealer.clone() else {
        return;
    };
    // Send until the outbox holds OUTBOX_HIGH messages (libzmq's high-water
    // mark is reached), then give the reactor a turn to flush and receive.
    while state.sent < VOLUME && dealer.outbox_len() < OUTBOX_HIGH {
        dealer.send_msg(state.sent.to_string()).expect("send");
        state.sent += 1;
    }
    if state.sent < VOLUME {
        cx.reactor.call_later(Duration::from_millis(1), pump);
    }
}

fn volume_done(state: &Volume, reactor: &Reactor<Volume>) {
    if state.received == VOLUME && state.peer_seq.is_some() {
        let _ = reactor.stop();
    }
}

/// 100,000 messages each way at once between our DEALER and txZMQ's
/// DEALER: nothing lost, nothing out of order, on either side.
#[test]
fn volume_100k_messages_each_way_with_txzmq_dealer() {
    let test = "volume_100k_messages_each_way_with_txzmq_dealer";
    let env = python_or_skip!(test);
    let scratch = Scratch::new(test);
    let (reactor, factory) = reactor_with(Volume {
        dealer: None,
        sent: 0,
        received: 0,
        out_of_order: 0,
        peer_seq: None,
    });
    let dealer =
        ZmqDealerConnection::new(&factory, ZmqEndpoint::bind(ANY_PORT)).expect("bind DEALER");
    dealer.got_message(|cx, parts| {
        let state = &mut *cx.state;
        let expected = state.received.to_string();
        if parts.len() != 1 || &parts[0][..] != expected.as_bytes() {
            state.out_of_order += 1;
        }
        state.received += 1;
        if state.received == VOLUME {
            volume_done(state, cx.reactor);
        }
    });
    let volume = VOLUME.to_string();
    let a = args(&[
        "--connect",
        &dealer.last_endpoint().expect("endpoint"),
        "--volume",
        &volume,
    ]);
    let peer = Peer::spawn(env, &scratch, Lib::Txzmq, "dealer", &a);
    reactor
        .access_state(|s| s.dealer = Some(dealer.clone()))
        .expect("state");
    reactor.call_when_running(pump);
    peer.forward(&reactor, |cx, line| {
        if line.event == "SEQ" {
            let n = |i: usize| line.words[i].parse::<usize>().expect("a count");
            cx.state.peer_seq = Some((n(0), n(1)));
            volume_done(cx.state, cx.reactor);
        }
    });
    let elapsed = run(&reactor, test, &[&peer]);
    let (sent, received, out_of_order, peer_seq) = reactor
        .access_state(|s| (s.sent, s.received, s.out_of_order, s.peer_seq))
        .expect("state");
    assert_eq!(sent, VOLUME, "{test}: we did not send everything");
    assert_eq!(
        (received, out_of_order),
        (VOLUME, 0),
        "{test}: at our DEALER (received, out of order)"
    );
    assert_eq!(
        peer_seq,
        Some((VOLUME, 0)),
        "{test}: at txZMQ's DEALER (received, out of order)"
    );
    peer.finish();
    report_timing(test, elapsed);
}
