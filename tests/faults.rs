//! Faults our connections must survive, with the reactor in this process:
//!
//! - **a peer killed with SIGKILL mid-stream and started again**, as a
//!   separate process (`tests/peers/fault_peer.py`, plain pyzmq in the
//!   interop environment): PUSH/PULL both ways, REQ→REP (requests in flight
//!   fail with `ZmqRequestTimeoutError`, new ones succeed after the
//!   restart), and ROUTER/DEALER both ways; and, with the socket monitor
//!   on, the peer hooks in order (accepted / disconnected / accepted on a
//!   bound PULL, connected / disconnected / connected on a connecting PUSH);
//! - **hostile bytes** on the tcp endpoint of every receiving pattern (PULL,
//!   SUB, REP, ROUTER, DEALER, PAIR): garbage, a valid ZMTP 3.0 greeting
//!   then garbage, a frame declaring an enormous length, and 10,000
//!   connect/drop cycles, while a well-behaved `zmq` socket on another thread
//!   is served throughout.
//!
//! Every test counts the process's file descriptors (`/proc/self/fd`) and
//! resident memory (`VmRSS`) before it starts and after it has shut its
//! connections down: the descriptors must be back to the baseline, the
//! memory within a stated slack. Both are process-wide, so the tests in this
//! file run one at a time (see [`serial`]).
//!
//! The SIGKILL tests need the interop environment (`scripts/interop-env`);
//! without it they say why they skip, and under `TX0MQ_REQUIRE_INTEROP=1`
//! (as CI runs them) they fail. See `docs/TESTING.md`, "Fault suite".

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::unix::io::AsRawFd;
use std::os::unix::process::ExitStatusExt;
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use tx0mq::connections::{
    MonitorEvent, Multipart, PullProtocol, ZmqCtx, ZmqDealerConnection, ZmqEndpoint, ZmqFactory,
    ZmqOptions, ZmqPairConnection, ZmqPullConnection, ZmqPushConnection, ZmqRepConnection,
    ZmqReqConnection, ZmqRequestTimeoutError, ZmqRouterConnection, ZmqSubConnection,
};
use tx0mq::Reactor;
use tx0mq_test_support::deferred::outcome;
use tx0mq_test_support::net::{tcp, TCP_ANY};
use tx0mq_test_support::process::{Event, Proc};
use tx0mq_test_support::python::PythonEnv;
use tx0mq_test_support::python_or_skip;
use tx0mq_test_support::reactor::{reactor, run_with_deadline};

/// The peer script the SIGKILL tests run (in `tests/peers/`).
const PEER: &str = "fault_peer.py";
/// How long a peer lives at most; it exits by itself after this.
const PEER_DEADLINE: &str = "60";
/// How long one wait may take: it may include starting Python, which takes
/// a second or more on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(20);
/// How many times each SIGKILL test kills its peer (and starts it again).
const KILLS: usize = 3;
/// How many messages a peer exchanges before it is killed.
const BEFORE_KILL: u64 = 2_000;
/// How many messages the last incarnation of a peer exchanges, all of which
/// must arrive.
const LAST_RUN: u64 = 5_000;

// ---------------------------------------------------------------------------
// Process-wide resources

/// Serialises the tests of this file: they count the whole process's file
/// descriptors and resident memory, which a test running alongside would
/// disturb.
fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// The process's open file descriptors, each with what it refers to.
fn open_fds() -> BTreeMap<u32, String> {
    std::fs::read_dir("/proc/self/fd")
        .expect("list /proc/self/fd")
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let fd = entry.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(entry.path())
                .map(|t| t.display().to_string())
                .unwrap_or_else(|_| "(closed while listing)".to_string());
            Some((fd, target))
        })
        .collect()
}

/// Resident memory in KiB (`VmRSS` in `/proc/self/status`).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// How far resident memory may stay above its baseline once a test has
/// shut everything down. Freed memory is not all given back to the kernel:
/// glibc keeps it in its arenas for reuse (libzmq's I/O thread allocates in
/// an arena of its own, which outlives the thread), and the first test in
/// the process also pays for one-time allocations (the Python check's
/// output, thread stacks touched by the harness). A leak of the things these
/// tests make by the thousand (messages, requests, connections) would show
/// as more than this.
const RSS_SLACK_KIB: u64 = 8 * 1024;

/// The file descriptors and memory at one moment.
struct Resources {
    fds: BTreeMap<u32, String>,
    rss_kib: u64,
}

impl Resources {
    fn measure() -> Resources {
        Resources {
            fds: open_fds(),
            rss_kib: rss_kib(),
        }
    }

    /// Waits until no more descriptors are open than at this baseline, and
    /// checks resident memory is within [`RSS_SLACK_KIB`] of it.
    ///
    /// Descriptors are closed asynchronously: libzmq's I/O thread closes a
    /// dropped peer's socket when it gets to it, and a killed peer's pipes
    /// close when our reader threads see their end. No event says when, so
    /// this polls `/proc/self/fd` until the count is back, with a deadline.
    fn assert_back(&self, what: &str) {
        wait_for_fds(&self.fds, what);
        let rss = rss_kib();
        eprintln!(
            "{what}: {} fds as before; RSS {} KiB before, {rss} KiB after",
            self.fds.len(),
            self.rss_kib
        );
        assert!(
            rss <= self.rss_kib + RSS_SLACK_KIB,
            "{what}: resident memory grew from {} KiB to {rss} KiB, more than the {} KiB slack",
            self.rss_kib,
            RSS_SLACK_KIB
        );
    }
}

/// Polls until no more descriptors are open than in `baseline`; fails
/// listing the new ones after [`PATIENCE`].
fn wait_for_fds(baseline: &BTreeMap<u32, String>, what: &str) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let now = open_fds();
        if now.len() <= baseline.len() {
            return;
        }
        if Instant::now() >= deadline {
            let new: Vec<String> = now
                .iter()
                .filter(|(fd, target)| baseline.get(fd) != Some(target))
                .map(|(fd, target)| format!("{fd} -> {target}"))
                .collect();
            panic!(
                "{what}: {} file descriptors open after {PATIENCE:?}, {} at the baseline; \
                 new or changed: {new:?}",
                now.len(),
                baseline.len()
            );
        }
        thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------
// Reactors and waits

/// A test reactor (a failed assertion in a callback fails the test at
/// once) and a factory.
fn reactor_with<S: 'static>(state: S) -> (Reactor<S>, ZmqFactory<S>) {
    let reactor = reactor(state);
    let factory = ZmqFactory::new(&reactor).expect("make the factory");
    (reactor, factory)
}

/// Iterates `reactor` until `done(state)` holds; fails naming `what` after
/// `limit`, with the peer's output when there is one.
fn wait_until<S: 'static>(
    reactor: &Reactor<S>,
    limit: Duration,
    what: &str,
    peer: Option<&Peer>,
    mut done: impl FnMut(&mut S) -> bool,
) {
    let deadline = Instant::now() + limit;
    while !reactor.access_state(&mut done).expect("the state is free") {
        if Instant::now() >= deadline {
            let output = peer.map(|p| p.proc.diagnostics()).unwrap_or_default();
            panic!("timed out after {limit:?} waiting for {what}\n{output}");
        }
        reactor
            .iterate(Duration::from_millis(10))
            .expect("iterate the reactor");
    }
}

/// `[b"a", b"b"]` from a message, for comparisons.
fn owned(message: &Multipart) -> Vec<Vec<u8>> {
    message.iter().map(|f| f.to_vec()).collect()
}

/// `"R i"`, the numbered messages the peers send: (run, i).
fn numbered(frame: &[u8]) -> Option<(usize, u64)> {
    let text = std::str::from_utf8(frame).ok()?;
    let (run, i) = text.split_once(' ')?;
    Some((run.parse().ok()?, i.parse().ok()?))
}

/// Asserts `seen` is `0, 1, 2, ...`: nothing lost, repeated or reordered.
fn assert_sequence(what: &str, seen: &[u64]) {
    if let Some(at) = seen.iter().enumerate().position(|(i, &n)| n != i as u64) {
        panic!(
            "{what}: message {at} is number {} (expected {at}); {} messages, first ones {:?}",
            seen[at],
            seen.len(),
            &seen[at.saturating_sub(3)..(at + 3).min(seen.len())]
        );
    }
}

// ---------------------------------------------------------------------------
// Peers

/// A `fault_peer.py` process, its output collected on another thread.
struct Peer {
    proc: Proc,
    /// Every line it printed.
    lines: Arc<Mutex<Vec<String>>>,
    /// The numbers of its `GOT R i` lines (the `pull` mode), in order.
    got: Arc<Mutex<Vec<u64>>>,
}

impl Peer {
    fn start(env: &PythonEnv, args: &[&str]) -> Peer {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--deadline", PEER_DEADLINE]);
        let proc = env.run_peer(PEER, &all);
        let lines = Arc::new(Mutex::new(Vec::new()));
        let got = Arc::new(Mutex::new(Vec::new()));
        let (line_sink, got_sink) = (lines.clone(), got.clone());
        proc.forward(move |event| {
            if let Event::Line(line) = event {
                if let Some((_, i)) = line
                    .strip_prefix("GOT ")
                    .and_then(|m| numbered(m.as_bytes()))
                {
                    lock(&got_sink).push(i);
                }
                lock(&line_sink).push(line);
            }
        });
        Peer { proc, lines, got }
    }

    fn printed(&self, line: &str) -> bool {
        lock(&self.lines).iter().any(|l| l == line)
    }

    fn got(&self) -> Vec<u64> {
        lock(&self.got).clone()
    }

    fn got_count(&self) -> usize {
        lock(&self.got).len()
    }

    /// Kills the peer with SIGKILL and checks that is what ended it.
    fn sigkill(&mut self) {
        let status = self.proc.kill();
        assert_eq!(
            status.signal(),
            Some(libc::SIGKILL),
            "{} had already ended ({status}) when it was to be killed\n{}",
            self.proc.name,
            self.proc.diagnostics()
        );
    }

    /// Closes its input and checks it exits 0.
    fn finish(mut self) {
        self.proc.close_stdin();
        let status = self.proc.wait(PATIENCE);
        assert!(
            status.success(),
            "{} exited with {status}\n{}",
            self.proc.name,
            self.proc.diagnostics()
        );
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

// ---------------------------------------------------------------------------
// SIGKILL: PUSH/PULL

/// What our PULL received, by the incarnation of the peer that sent it.
#[derive(Default)]
struct Pulled {
    runs: BTreeMap<usize, Vec<u64>>,
    foreign: Vec<Vec<Vec<u8>>>,
}

impl Pulled {
    fn count(&self, run: usize) -> u64 {
        self.runs.get(&run).map_or(0, |r| r.len() as u64)
    }
}

/// A pyzmq PUSH peer streams numbered messages to our bound PULL and is
/// killed with SIGKILL mid-stream, three times, each time started again:
/// the PULL goes on receiving from every new incarnation. Each
/// incarnation's messages arrive in order with none repeated or skipped
/// (up to the kill for the killed ones, all 5,000 for the last), and the
/// process's descriptors and memory are back to their baseline afterwards.
#[test]
fn pull_keeps_receiving_from_a_pusher_killed_and_restarted() {
    let test = "pull_keeps_receiving_from_a_pusher_killed_and_restarted";
    let _serial = serial();
    let env = python_or_skip!(test);
    let before = Resources::measure();
    {
        let (reactor, factory) = reactor_with(Pulled::default());
        let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(TCP_ANY)).expect("bind");
        pull.on_pull(
            |cx, message| match message.first().and_then(|f| numbered(f)) {
                Some((run, i)) if message.len() == 1 => {
                    cx.state.runs.entry(run).or_default().push(i)
                }
                _ => cx.state.foreign.push(owned(&message)),
            },
        );
        let endpoint = pull.last_endpoint().expect("endpoint");
        for run in 1..=KILLS {
            let name = run.to_string();
            let mut pusher = Peer::start(env, &["push", "--connect", &endpoint, "--run", &name]);
            let what = format!("{BEFORE_KILL} messages from pusher {run}");
            wait_until(&reactor, PATIENCE, &what, Some(&pusher), |s| {
                s.count(run) >= BEFORE_KILL
            });
            pusher.sigkill();
        }
        let last = KILLS + 1;
        let (name, count) = (last.to_string(), LAST_RUN.to_string());
        let pusher = Peer::start(
            env,
            &[
                "push",
                "--connect",
                &endpoint,
                "--run",
                &name,
                "--count",
                &count,
            ],
        );
        let what = format!("all {LAST_RUN} messages from the last pusher");
        wait_until(&reactor, PATIENCE, &what, Some(&pusher), |s| {
            s.count(last) >= LAST_RUN
        });
        reactor
            .access_state(|s| {
                assert!(s.foreign.is_empty(), "unexpected messages: {:?}", s.foreign);
                for (run, seen) in &s.runs {
                    assert_sequence(&format!("pusher {run}"), seen);
                }
                assert_eq!(s.count(last), LAST_RUN, "the last pusher's messages");
            })
            .expect("state");
        pusher.finish();
        factory.shutdown();
    }
    before.assert_back(test);
}

/// What our PUSH has sent.
#[derive(Default)]
struct Pushing {
    next: u64,
    /// The producer stops here.
    limit: Option<u64>,
}

/// Our bound PUSH streams numbered messages (a pull producer, paused while
/// the outbox waits) to a pyzmq PULL peer that is killed with SIGKILL
/// mid-stream, three times, each time started again. While no peer is
/// connected, messages wait in the outbox (the test waits for that before
/// starting the next peer, so the dead peer's pipe is gone); each
/// incarnation receives an unbroken run of numbers, no number twice; the
/// last one receives everything from its first message to the end. What
/// the killed peers lost is what was in flight to them. Descriptors and
/// memory are back afterwards.
#[test]
fn push_resumes_to_a_puller_killed_and_restarted() {
    let test = "push_resumes_to_a_puller_killed_and_restarted";
    let _serial = serial();
    let env = python_or_skip!(test);
    let before = Resources::measure();
    {
        let (reactor, factory) = reactor_with(Pushing::default());
        let push = ZmqPushConnection::new(&factory, ZmqEndpoint::bind(TCP_ANY)).expect("bind");
        push.produce_with(|cx| {
            for _ in 0..256 {
                if cx.state.limit == Some(cx.state.next) {
                    cx.conn.unregister_producer();
                    return;
                }
                cx.conn
                    .push(format!("0 {}", cx.state.next))
                    .expect("push (the outbox has room: the producer pauses)");
                cx.state.next += 1;
                if cx.conn.outbox_len() > 0 {
                    return;
                }
            }
        })
        .expect("producer");
        let endpoint = push.last_endpoint().expect("endpoint");
        let mut received: Vec<Vec<u64>> = Vec::new();
        for run in 1..=KILLS + 1 {
            let name = run.to_string();
            let mut puller = Peer::start(env, &["pull", "--connect", &endpoint, "--run", &name]);
            if run <= KILLS {
                let what = format!("puller {run} to get {BEFORE_KILL} messages");
                wait_until(&reactor, PATIENCE, &what, Some(&puller), |_| {
                    puller.got_count() as u64 >= BEFORE_KILL
                });
                puller.sigkill();
                // Once libzmq refuses a message, the dead peer's pipe is
                // gone and what follows waits for the next peer.
                wait_until(&reactor, PATIENCE, "the outbox to hold back", None, |_| {
                    push.outbox_len() > 0
                });
            } else {
                let limit = reactor
                    .access_state(|s| {
                        let limit = s.next + LAST_RUN;
                        s.limit = Some(limit);
                        limit
                    })
                    .expect("state");
                let what = format!("the last puller to get message {}", limit - 1);
                wait_until(&reactor, PATIENCE, &what, Some(&puller), |_| {
                    puller.got().last() == Some(&(limit - 1))
                });
                assert_eq!(push.outbox_len(), 0, "the outbox drained");
            }
            received.push(puller.got());
            if run > KILLS {
                puller.finish();
            }
        }
        let mut all = BTreeSet::new();
        for (run, got) in received.iter().enumerate() {
            let first = got.first().copied().unwrap_or_default();
            let expected: Vec<u64> = (first..first + got.len() as u64).collect();
            assert!(
                *got == expected,
                "puller {}: not an unbroken run from {first}: {} messages, last {:?}",
                run + 1,
                got.len(),
                got.last()
            );
            for n in got {
                assert!(all.insert(*n), "message {n} arrived twice");
            }
        }
        let sent = reactor.access_state(|s| s.next).expect("state");
        eprintln!(
            "{test}: {sent} sent, {} received, {} lost in flight to the killed pullers",
            all.len(),
            sent - all.len() as u64
        );
        factory.shutdown();
    }
    before.assert_back(test);
}

// ---------------------------------------------------------------------------
// SIGKILL: REQ→REP

/// How long the requests in flight at a kill wait before timing out.
const IN_FLIGHT_TIMEOUT: Duration = Duration::from_millis(1500);
/// How many requests are in flight at each kill.
const IN_FLIGHT: usize = 5;
/// How many requests each incarnation of the REP answers first.
const ANSWERED: usize = 10;

/// Sends `ANSWERED` requests one by one and checks each reply came from
/// REP incarnation `run`.
fn answered_requests<S: 'static>(
    reactor: &Reactor<S>,
    req: &ZmqReqConnection<S>,
    rep: &Peer,
    run: usize,
) {
    for i in 0..ANSWERED {
        let request = format!("c{run} r{i}");
        let reply = outcome(&req.send_msg_with_timeout(request.as_str(), PATIENCE));
        let what = format!("the reply to {request:?}");
        wait_until(reactor, PATIENCE, &what, Some(rep), |_| {
            reply.borrow().is_some()
        });
        let reply = reply.borrow_mut().take().expect("an outcome");
        let reply = reply.unwrap_or_else(|f| panic!("{request:?} failed: {f:#}"));
        assert_eq!(
            owned(&reply),
            vec![format!("run {run}").into_bytes(), request.into_bytes()],
            "the reply to request {i} of incarnation {run}"
        );
    }
}

/// Our REQ talks to a pyzmq REP peer bound on a fixed port, which is
/// killed with SIGKILL twice and started again on the same port. Before
/// each kill the REP answers ten requests, then holds the first of five
/// more: all five are in flight when it dies, and each fails through its
/// Deferred with `ZmqRequestTimeoutError` (carrying its timeout), leaving no
/// pending request. After each restart the REQ reconnects by itself and
/// new requests succeed, answered by the new incarnation. Descriptors and
/// memory are back afterwards.
#[test]
fn req_times_out_on_a_killed_rep_and_succeeds_after_its_restart() {
    let test = "req_times_out_on_a_killed_rep_and_succeeds_after_its_restart";
    let _serial = serial();
    let env = python_or_skip!(test);
    let before = Resources::measure();
    {
        let (reactor, factory) = reactor_with(());
        let endpoint = tcp();
        let req =
            ZmqReqConnection::new(&factory, ZmqEndpoint::connect(&endpoint)).expect("connect");
        let kills = KILLS - 1;
        for run in 1..=kills {
            let name = run.to_string();
            let hold = format!("hold c{run}");
            let mut rep = Peer::start(
                env,
                &["rep", "--bind", &endpoint, "--run", &name, "--hold", &hold],
            );
            answered_requests(&reactor, &req, &rep, run);
            let in_flight: Vec<_> = (0..IN_FLIGHT)
                .map(|i| {
                    outcome(&req.send_msg_with_timeout(format!("{hold} {i}"), IN_FLIGHT_TIMEOUT))
                })
                .collect();
            let holding = format!("HOLDING {hold} 0");
            wait_until(&reactor, PATIENCE, &holding, Some(&rep), |_| {
                rep.printed(&holding)
            });
            rep.sigkill();
            let what = format!("the {IN_FLIGHT} requests in flight to REP {run} to fail");
            wait_until(&reactor, PATIENCE, &what, None, |_| {
                in_flight.iter().all(|o| o.borrow().is_some())
            });
            for (i, result) in in_flight.iter().enumerate() {
                match result.borrow_mut().take().expect("an outcome") {
                    Ok(reply) => panic!("request {i} in flight got a reply: {:?}", owned(&reply)),
                    Err(failure) => {
                        let timeout = failure
                            .downcast_ref::<ZmqRequestTimeoutError>()
                            .unwrap_or_else(|| panic!("request {i} failed with {failure:#}"));
                        assert_eq!(timeout.timeout, IN_FLIGHT_TIMEOUT);
                        assert_eq!(timeout.message_id.len(), 16);
                    }
                }
            }
            assert_eq!(req.pending_requests(), 0, "no request left pending");
        }
        let run = kills + 1;
        let name = run.to_string();
        let rep = Peer::start(env, &["rep", "--bind", &endpoint, "--run", &name]);
        answered_requests(&reactor, &req, &rep, run);
        assert_eq!(req.pending_requests(), 0, "no request left pending");
        rep.finish();
        factory.shutdown();
    }
    before.assert_back(test);
}

// ---------------------------------------------------------------------------
// SIGKILL: ROUTER/DEALER

/// What our ROUTER received.
#[derive(Default)]
struct Routed {
    runs: BTreeMap<usize, Vec<u64>>,
    senders: BTreeSet<Vec<u8>>,
    hellos: usize,
}

impl Routed {
    fn count(&self, run: usize) -> u64 {
        self.runs.get(&run).map_or(0, |r| r.len() as u64)
    }
}

/// Our bound ROUTER echoes every message to its sender. A pyzmq DEALER
/// peer with the identity `worker` streams numbered requests (at most 100
/// unanswered) and is killed with SIGKILL mid-stream, three times, each
/// time started again with the same identity: the ROUTER serves every new
/// incarnation (the peer says hello until one comes back, as the ROUTER
/// holds a reused identity back until it has seen the old connection go).
/// Each incarnation's requests arrive in order, none skipped or repeated;
/// the last gets all 5,000 echoes back. Descriptors and memory are back
/// afterwards.
#[test]
fn router_serves_a_dealer_killed_and_restarted_with_its_identity() {
    let test = "router_serves_a_dealer_killed_and_restarted_with_its_identity";
    let _serial = serial();
    let env = python_or_skip!(test);
    let before = Resources::measure();
    {
        let (reactor, factory) = reactor_with(Routed::default());
        let router = ZmqRouterConnection::new(&factory, ZmqEndpoint::bind(TCP_ANY)).expect("bind");
        router.got_message(|cx, sender, parts| {
            cx.state.senders.insert(sender.to_vec());
            match parts.first().and_then(|p| numbered(p)) {
                Some((run, i)) => cx.state.runs.entry(run).or_default().push(i),
                None => cx.state.hellos += 1,
            }
            cx.conn.send_msg(&sender, parts)
        });
        let endpoint = router.last_endpoint().expect("endpoint");
        let dealer = |run: usize, count: Option<u64>| {
            let (name, count) = (run.to_string(), count.map(|c| c.to_string()));
            let mut args = vec![
                "dealer",
                "--connect",
                &endpoint,
                "--identity",
                "worker",
                "--run",
                &name,
            ];
            if let Some(count) = &count {
                args.extend(["--count", count]);
            }
            Peer::start(env, &args)
        };
        for run in 1..=KILLS {
            let mut peer = dealer(run, None);
            let what = format!("{BEFORE_KILL} requests from dealer {run}");
            wait_until(&reactor, PATIENCE, &what, Some(&peer), |s| {
                s.count(run) >= BEFORE_KILL
            });
            peer.sigkill();
        }
        let last = KILLS + 1;
        let peer = dealer(last, Some(LAST_RUN));
        let done = format!("DONE {LAST_RUN}");
        wait_until(
            &reactor,
            PATIENCE,
            "the last dealer's echoes",
            Some(&peer),
            |_| peer.printed(&done),
        );
        reactor
            .access_state(|s| {
                for (run, seen) in &s.runs {
                    assert_sequence(&format!("dealer {run}"), seen);
                }
                assert_eq!(s.count(last), LAST_RUN, "the last dealer's requests");
                assert_eq!(
                    s.senders,
                    BTreeSet::from([b"worker".to_vec()]),
                    "every request came from the identity worker"
                );
                assert!(s.hellos >= last, "each incarnation said hello");
            })
            .expect("state");
        peer.finish();
        factory.shutdown();
    }
    before.assert_back(test);
}

/// What our DEALER sent and got back.
#[derive(Default)]
struct Dealt {
    next: u64,
    /// Sent and not echoed yet.
    outstanding: BTreeSet<u64>,
    /// Outstanding when a peer was killed: lost, unless a later peer
    /// echoes them.
    written_off: BTreeSet<u64>,
    /// Echoes by the incarnation of the ROUTER that sent them.
    echoes: BTreeMap<usize, Vec<u64>>,
    /// The sender stops at this number.
    limit: Option<u64>,
}

/// How many requests our DEALER keeps unanswered.
const WINDOW: usize = 100;

impl Dealt {
    fn count(&self, run: usize) -> u64 {
        self.echoes.get(&run).map_or(0, |e| e.len() as u64)
    }

    /// Sends while fewer than [`WINDOW`] are unanswered.
    fn pump<S: 'static>(&mut self, dealer: &ZmqDealerConnection<S>) {
        while self.outstanding.len() < WINDOW && self.limit != Some(self.next) {
            dealer.send_msg(self.next.to_string()).expect("send");
            self.outstanding.insert(self.next);
            self.next += 1;
        }
    }

    fn echoed(&mut self, message: &Multipart) {
        let run = std::str::from_utf8(&message[0])
            .expect("run")
            .parse()
            .expect("run");
        let n: u64 = std::str::from_utf8(&message[1])
            .expect("n")
            .parse()
            .expect("n");
        assert!(
            self.outstanding.remove(&n) || self.written_off.remove(&n),
            "an echo of {n}, which was not outstanding (a duplicate?)"
        );
        self.echoes.entry(run).or_default().push(n);
    }
}

/// Our DEALER connects to a pyzmq ROUTER peer bound on a fixed port, which
/// echoes each request; the DEALER keeps 100 requests unanswered. The
/// ROUTER is killed with SIGKILL mid-stream three times and started again
/// on the same port: our DEALER reconnects by itself and is echoed by each
/// new incarnation, in order. No request is echoed twice; the requests
/// outstanding at a kill are either lost with the dead peer or, when they had
/// not left our side yet, delivered to the next incarnation; every request
/// sent after the last restart is echoed. Descriptors and memory are back
/// afterwards.
#[test]
fn dealer_resumes_with_a_router_killed_and_restarted() {
    let test = "dealer_resumes_with_a_router_killed_and_restarted";
    let _serial = serial();
    let env = python_or_skip!(test);
    let before = Resources::measure();
    {
        let (reactor, factory) = reactor_with(Dealt::default());
        let endpoint = tcp();
        let dealer =
            ZmqDealerConnection::new(&factory, ZmqEndpoint::connect(&endpoint)).expect("connect");
        dealer.got_message(|cx, message| {
            cx.state.echoed(&message);
            cx.state.pump(cx.conn);
        });
        for run in 1..=KILLS + 1 {
            let name = run.to_string();
            let mut router = Peer::start(env, &["router", "--bind", &endpoint, "--run", &name]);
            wait_until(
                &reactor,
                PATIENCE,
                "the router to be bound",
                Some(&router),
                |_| router.printed("READY"),
            );
            // What was outstanding at the kill counts no more against the
            // window; the sending starts again.
            reactor
                .access_state(|s| {
                    let outstanding = std::mem::take(&mut s.outstanding);
                    s.written_off.extend(outstanding);
                    if run > KILLS {
                        s.limit = Some(s.next + LAST_RUN);
                    }
                    s.pump(&dealer);
                })
                .expect("state");
            if run <= KILLS {
                let what = format!("{BEFORE_KILL} echoes from router {run}");
                wait_until(&reactor, PATIENCE, &what, Some(&router), |s| {
                    s.count(run) >= BEFORE_KILL
                });
                router.sigkill();
            } else {
                let what = "every request since the last restart to be echoed";
                wait_until(&reactor, PATIENCE, what, Some(&router), |s| {
                    s.limit == Some(s.next) && s.outstanding.is_empty()
                });
                router.finish();
            }
        }
        reactor
            .access_state(|s| {
                for (run, echoes) in &s.echoes {
                    assert!(
                        echoes.windows(2).all(|w| w[0] < w[1]),
                        "router {run} echoed out of order"
                    );
                }
                let echoed: usize = s.echoes.values().map(Vec::len).sum();
                assert!(
                    s.written_off.len() <= KILLS * WINDOW,
                    "lost more than the window at each kill: {}",
                    s.written_off.len()
                );
                eprintln!(
                    "{test}: {} sent, {echoed} echoed, {} lost with the killed routers",
                    s.next,
                    s.written_off.len()
                );
            })
            .expect("state");
        factory.shutdown();
    }
    before.assert_back(test);
}

// ---------------------------------------------------------------------------
// Hostile bytes

/// How many connect/drop cycles each hostile test makes.
const CONNECTS: u64 = 10_000;
/// Every this many connect/drop cycles, the attacker waits for the server's
/// greeting on one connection: the connections before it have then been
/// accepted, so the listen backlog (libzmq's 100) never overflows.
const CONNECTS_PER_SYNC: u64 = 50;
/// Every this many connect/drop cycles, the well-behaved peer makes one
/// round trip.
const CONNECTS_PER_ROUND_TRIP: u64 = 200;
/// How long a round trip of the well-behaved peer, or the server's closing
/// of a hostile connection, may take.
const ROUND_TRIP: Duration = Duration::from_secs(10);

/// The receiving patterns under attack.
#[derive(Clone, Copy, Debug)]
enum Target {
    Pull,
    Sub,
    Rep,
    Router,
    Dealer,
    Pair,
}

impl Target {
    /// The socket type a hostile peer claims in its READY command: one the
    /// target accepts, so the handshake completes and the frame after it is
    /// read.
    fn peer_type(self) -> &'static [u8] {
        match self {
            Target::Pull => b"PUSH",
            Target::Sub => b"PUB",
            Target::Rep => b"REQ",
            Target::Router | Target::Dealer => b"DEALER",
            Target::Pair => b"PAIR",
        }
    }

    /// The well-behaved peer's socket type.
    fn good_type(self) -> zmq::SocketType {
        match self {
            Target::Pull => zmq::PUSH,
            Target::Sub => zmq::PUB,
            Target::Rep => zmq::REQ,
            Target::Router | Target::Dealer => zmq::DEALER,
            Target::Pair => zmq::PAIR,
        }
    }
}

/// What the connection under attack was given.
#[derive(Default)]
struct Served {
    /// The numbers of the well-behaved peer's messages, in order.
    good: Vec<u64>,
    /// Messages from anyone else: libzmq takes bytes that do not start
    /// with the ZMTP signature for a ZMTP 1.0 peer and frames them, so
    /// garbage can arrive as messages.
    foreign: u64,
}

impl Served {
    /// Records `frame` if it is the well-behaved peer's `good N`; returns N.
    fn record(&mut self, frame: Option<&[u8]>) -> Option<u64> {
        let n = frame
            .and_then(|f| f.strip_prefix(b"good "))
            .and_then(|n| std::str::from_utf8(n).ok())
            .and_then(|n| n.parse().ok());
        match n {
            Some(n) => self.good.push(n),
            None => self.foreign += 1,
        }
        n
    }
}

/// Makes the connection under attack, bound on tcp; it acknowledges each
/// good message through `acks` (PULL, SUB, DEALER) or echoes it (REP,
/// ROUTER, PAIR). Returns its endpoint.
fn serve(target: Target, factory: &ZmqFactory<Served>, acks: mpsc::Sender<u64>) -> String {
    let bind = ZmqEndpoint::bind(TCP_ANY);
    match target {
        Target::Pull => {
            let pull = ZmqPullConnection::new(factory, bind).expect("bind PULL");
            pull.on_pull(move |cx, message| {
                if let Some(n) = cx.state.record(message.first().map(|f| &f[..])) {
                    let _ = acks.send(n);
                }
            });
            pull.last_endpoint()
        }
        Target::Sub => {
            let sub = ZmqSubConnection::new(factory, bind).expect("bind SUB");
            sub.subscribe(b"").expect("subscribe");
            sub.got_message(move |cx, message, tag| {
                let frame = (&tag[..] == b"good").then(|| [&b"good "[..], &message].concat());
                if let Some(n) = cx.state.record(frame.as_deref()) {
                    let _ = acks.send(n);
                }
            });
            sub.last_endpoint()
        }
        Target::Dealer => {
            // Acknowledged, not echoed: a DEALER sends round-robin to every
            // peer that completed a handshake, hostile ones included.
            let dealer = ZmqDealerConnection::new(factory, bind).expect("bind DEALER");
            dealer.got_message(move |cx, message| {
                if let Some(n) = cx.state.record(message.first().map(|f| &f[..])) {
                    let _ = acks.send(n);
                }
            });
            dealer.last_endpoint()
        }
        Target::Rep => {
            let rep = ZmqRepConnection::new(factory, bind).expect("bind REP");
            // Every request is answered, foreign ones too, so none waits.
            rep.got_message(|cx, id, parts| {
                cx.state.record(parts.first().map(|f| &f[..]));
                cx.conn.reply(&id, parts)
            });
            rep.last_endpoint()
        }
        Target::Router => {
            let router = ZmqRouterConnection::new(factory, bind).expect("bind ROUTER");
            router.got_message(|cx, sender, parts| {
                cx.state.record(parts.first().map(|f| &f[..]));
                cx.conn.send_msg(&sender, parts)
            });
            router.last_endpoint()
        }
        Target::Pair => {
            let pair = ZmqPairConnection::new(factory, bind).expect("bind PAIR");
            pair.got_message(|cx, parts| {
                cx.state.record(parts.first().map(|f| &f[..]));
                cx.conn.send_msg(parts)
            });
            pair.last_endpoint()
        }
    }
    .expect("endpoint")
}

/// The well-behaved peer: a plain `zmq` socket on the attacker's thread.
struct GoodPeer {
    _context: zmq::Context,
    socket: zmq::Socket,
    target: Target,
    acks: mpsc::Receiver<u64>,
    next: u64,
    slowest: Duration,
}

impl GoodPeer {
    fn connect(target: Target, endpoint: &str, acks: mpsc::Receiver<u64>) -> GoodPeer {
        let context = zmq::Context::new();
        let socket = context.socket(target.good_type()).expect("good socket");
        socket.set_linger(0).expect("linger");
        socket
            .set_rcvtimeo(ROUND_TRIP.as_millis() as i32)
            .expect("rcvtimeo");
        socket
            .set_sndtimeo(ROUND_TRIP.as_millis() as i32)
            .expect("sndtimeo");
        if matches!(target, Target::Router) {
            socket.set_identity(b"good").expect("identity");
        }
        socket.connect(endpoint).expect("connect the good peer");
        GoodPeer {
            _context: context,
            socket,
            target,
            acks,
            next: 0,
            slowest: Duration::ZERO,
        }
    }

    fn send(&self, n: u64) -> Result<(), String> {
        let message = match self.target {
            Target::Sub => format!("good\0{n}"),
            _ => format!("good {n}"),
        };
        self.socket
            .send(message.as_bytes(), 0)
            .map_err(|e| format!("send good {n}: {e}"))
    }

    /// Sends the next good message and waits until it was served: its echo
    /// came back, or the reactor acknowledged it. The first one is sent
    /// again every 50 ms until served: a SUB's subscription reaches a PUB
    /// some time after the connection (ZeroMQ's slow joiner).
    fn round_trip(&mut self) -> Result<(), String> {
        let n = self.next;
        let started = Instant::now();
        self.send(n)?;
        match self.target {
            Target::Pull | Target::Sub | Target::Dealer => loop {
                let wait = if n == 0 {
                    Duration::from_millis(50)
                } else {
                    ROUND_TRIP
                };
                match self.acks.recv_timeout(wait) {
                    Ok(acked) if acked == n => break,
                    Ok(_) => {}
                    Err(_) if n == 0 && started.elapsed() < ROUND_TRIP => self.send(n)?,
                    Err(_) => return Err(format!("good {n} not served within {ROUND_TRIP:?}")),
                }
            },
            Target::Rep | Target::Router | Target::Pair => {
                let reply = self
                    .socket
                    .recv_multipart(0)
                    .map_err(|e| format!("no echo of good {n} within {ROUND_TRIP:?}: {e}"))?;
                let expected = vec![format!("good {n}").into_bytes()];
                if reply != expected {
                    return Err(format!("good {n} echoed as {reply:?}"));
                }
            }
        }
        self.slowest = self.slowest.max(started.elapsed());
        self.next += 1;
        Ok(())
    }
}

/// A ZMTP 3.0 greeting for the NULL mechanism: signature (0xFF, 8 bytes of
/// padding, 0x7F), version 3.0, "NULL" padded to 20 bytes, as-server 0, and
/// 31 bytes of filler. 64 bytes.
fn greeting() -> Vec<u8> {
    let mut g = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 3, 0];
    let mut mechanism = b"NULL".to_vec();
    mechanism.resize(20, 0);
    g.extend(mechanism);
    g.push(0);
    g.extend([0u8; 31]);
    assert_eq!(g.len(), 64);
    g
}

/// A READY command claiming `socket_type`.
fn ready(socket_type: &[u8]) -> Vec<u8> {
    let mut body = vec![5];
    body.extend(b"READY");
    body.push(11);
    body.extend(b"Socket-Type");
    body.extend((socket_type.len() as u32).to_be_bytes());
    body.extend(socket_type);
    let mut command = vec![0x04, body.len() as u8];
    command.extend(body);
    command
}

/// A frame header with the long-size flag, declaring `size` bytes
/// (`command`: a command frame), and a few bytes of the promised body.
fn huge(size: u64, command: bool) -> Vec<u8> {
    let mut frame = vec![if command { 0x06 } else { 0x02 }];
    frame.extend(size.to_be_bytes());
    frame.extend(b"and much more to come");
    frame
}

/// `len` bytes of deterministic noise (xorshift), so a failure reproduces.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// One attack: its name, its bytes, and whether the server must close the
/// connection by itself (otherwise it closes it once we close our side).
struct Attack {
    name: &'static str,
    bytes: Vec<u8>,
    server_closes: bool,
    /// Whether the bytes can complete a handshake (ZMTP 1.0, which libzmq
    /// assumes when the first byte is not 0xFF, or 3.0) and then deliver
    /// messages.
    delivers_messages: bool,
}

/// The attacks on `target`, one connection each.
///
/// A PAIR that already has its peer is spared those that deliver messages:
/// libzmq (4.3.4 here, 4.3.5 too) rejects a second PAIR peer by dropping its
/// pipe but keeps its connection, and once that connection has a message to
/// pass on, its engine waits for a pipe that never comes and stops reading,
/// so not even the peer's close is noticed: the descriptor stays open until
/// the PAIR is closed. Whether a given attack gets there depends on timing
/// (the 64 KiB of noise does about one run in four).
fn attacks(target: Target) -> Vec<Attack> {
    let attack = |name, bytes, server_closes, delivers_messages| Attack {
        name,
        bytes,
        server_closes,
        delivers_messages,
    };
    let with_greeting = |rest: &[u8]| [greeting(), rest.to_vec()].concat();
    let with_ready = |rest: &[u8]| [greeting(), ready(target.peer_type()), rest.to_vec()].concat();
    let mut plain = greeting();
    plain[12..17].copy_from_slice(b"PLAIN");
    let all = vec![
        attack(
            "an HTTP request",
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            false,
            false,
        ),
        attack("64 KiB of noise", noise(1, 64 << 10), false, true),
        attack(
            "0xFF, then noise",
            [&[0xFF][..], &noise(2, 4096)].concat(),
            false,
            true,
        ),
        attack("4 KiB of zeros", vec![0; 4096], false, false),
        attack("half a greeting", greeting()[..30].to_vec(), false, false),
        attack(
            "a greeting, then noise",
            with_greeting(&noise(3, 4096)),
            false,
            false,
        ),
        attack("a greeting for the PLAIN mechanism", plain, true, false),
        attack(
            "a greeting, then a command of 2^62 bytes",
            with_greeting(&huge(1 << 62, true)),
            true,
            false,
        ),
        attack(
            "READY for a socket type that does not exist",
            [greeting(), ready(b"NOPE")].concat(),
            true,
            false,
        ),
        attack(
            "READY, then a frame of 2^62 bytes",
            with_ready(&huge(1 << 62, false)),
            true,
            false,
        ),
        attack(
            "READY, then a frame of 2^64-1 bytes",
            with_ready(&huge(u64::MAX, false)),
            true,
            false,
        ),
        attack(
            "READY, then noise",
            with_ready(&noise(4, 4096)),
            false,
            true,
        ),
    ];
    all.into_iter()
        .filter(|a| !(matches!(target, Target::Pair) && a.delivers_messages))
        .collect()
}

/// Sends `bytes` on a new connection, then waits for the server to close
/// it: by itself when `server_closes`, else after we close our sending side.
fn attack(addr: SocketAddr, name: &str, bytes: &[u8], server_closes: bool) -> Result<(), String> {
    let mut stream = TcpStream::connect_timeout(&addr, ROUND_TRIP)
        .map_err(|e| format!("{name}: connect: {e}"))?;
    stream.set_read_timeout(Some(ROUND_TRIP)).expect("timeout");
    stream.set_write_timeout(Some(ROUND_TRIP)).expect("timeout");
    // The server may close the connection before it has read everything.
    let _ = stream.write_all(bytes);
    if !server_closes {
        let _ = stream.shutdown(Shutdown::Write);
    }
    let mut buffer = [0u8; 4096];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(()),
            Err(e) => {
                return Err(format!(
                    "{name}: the server did not close the connection within {ROUND_TRIP:?}: {e}"
                ))
            }
        }
    }
}

/// Connects and drops at once; every other time with SO_LINGER 0, so the
/// drop is a reset instead of a FIN (and leaves no TIME_WAIT behind).
fn connect_and_drop(addr: SocketAddr, abort: bool) -> Result<(), String> {
    let stream =
        TcpStream::connect_timeout(&addr, ROUND_TRIP).map_err(|e| format!("connect: {e}"))?;
    if abort {
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: a valid socket and a correctly sized linger struct.
        let rc = unsafe {
            libc::setsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "set SO_LINGER");
    }
    Ok(())
}

/// Connects and waits for the first byte of the server's greeting: the
/// server has accepted this connection, and so every one before it.
fn connect_and_await_greeting(addr: SocketAddr) -> Result<(), String> {
    let mut stream =
        TcpStream::connect_timeout(&addr, ROUND_TRIP).map_err(|e| format!("connect: {e}"))?;
    stream.set_read_timeout(Some(ROUND_TRIP)).expect("timeout");
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(1) if byte[0] == 0xFF => Ok(()),
        other => Err(format!("no greeting from the server: {other:?}")),
    }
}

/// What the attacker reports.
#[derive(Debug)]
struct Attacked {
    round_trips: u64,
    slowest: Duration,
    connect_drop: Duration,
}

/// The attacker's thread: the well-behaved peer's first round trip, then
/// each attack and the connect/drop cycles with round trips in between,
/// and finally (with the peer still connected) until the descriptors the
/// attacks cost have all been closed.
fn attack_all(
    target: Target,
    endpoint: &str,
    acks: mpsc::Receiver<u64>,
) -> Result<Attacked, String> {
    let addr: SocketAddr = endpoint
        .strip_prefix("tcp://")
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| format!("not a tcp endpoint: {endpoint}"))?;
    let mut good = GoodPeer::connect(target, endpoint, acks);
    good.round_trip()?;
    let settled = open_fds();
    for Attack {
        name,
        bytes,
        server_closes,
        ..
    } in attacks(target)
    {
        attack(addr, name, &bytes, server_closes)?;
        good.round_trip()
            .map_err(|e| format!("after {name}: {e}"))?;
    }
    let started = Instant::now();
    for i in 1..=CONNECTS {
        connect_and_drop(addr, i % 2 == 0).map_err(|e| format!("connect/drop {i}: {e}"))?;
        if i % CONNECTS_PER_SYNC == 0 {
            connect_and_await_greeting(addr).map_err(|e| format!("after {i} connects: {e}"))?;
        }
        if i % CONNECTS_PER_ROUND_TRIP == 0 {
            good.round_trip()
                .map_err(|e| format!("after {i} connect/drop cycles: {e}"))?;
        }
    }
    let connect_drop = started.elapsed();
    good.round_trip()?;
    // The server closes what it accepted; the count returns to where it was
    // with only the well-behaved peer connected.
    wait_for_fds(&settled, &format!("{target:?} after the attacks"));
    good.round_trip()?;
    Ok(Attacked {
        round_trips: good.next,
        slowest: good.slowest,
        connect_drop,
    })
}

/// Stops the reactor when dropped, so that it stops even if the attacker's
/// thread panics.
struct StopOnDrop(tx0mq::reactor::ThreadHandle<Served>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        let _ = self.0.call_from_thread(|cx| cx.reactor.stop());
    }
}

/// Runs every attack on a `target` connection bound on tcp, while a
/// well-behaved peer makes round trips with it, and checks that every round
/// trip was served, exactly once and in order, that the descriptors the
/// attacks cost were released while the connection went on serving, and
/// that descriptors and memory are back to the baseline after shutdown.
fn survives_hostile_bytes(test: &str, target: Target) {
    let _serial = serial();
    let before = Resources::measure();
    {
        let (reactor, factory) = reactor_with(Served::default());
        let (acks_tx, acks_rx) = mpsc::channel();
        let endpoint = serve(target, &factory, acks_tx);
        let stop = StopOnDrop(reactor.thread_handle());
        let attacker = thread::spawn(move || {
            let _stop = stop;
            attack_all(target, &endpoint, acks_rx)
        });
        let ran = run_with_deadline(&reactor, Duration::from_secs(120), test, |s| {
            format!("{} good messages served so far", s.good.len())
        });
        let attacked = match attacker.join() {
            Ok(Ok(attacked)) => attacked,
            Ok(Err(e)) => panic!("{test}: {e}"),
            Err(panic) => std::panic::resume_unwind(panic),
        };
        reactor
            .access_state(|s| {
                assert_sequence(&format!("{test}: the good messages"), &s.good);
                assert_eq!(s.good.len() as u64, attacked.round_trips);
                eprintln!(
                    "{test}: {} round trips served (slowest {:?}), {} foreign messages, \
                     {CONNECTS} connect/drop cycles in {:?}, {:?} in all",
                    attacked.round_trips, attacked.slowest, s.foreign, attacked.connect_drop, ran
                );
            })
            .expect("state");
        factory.shutdown();
    }
    before.assert_back(test);
}

/// PULL: see [`survives_hostile_bytes`].
#[test]
fn pull_survives_hostile_bytes_and_serves_a_pusher() {
    survives_hostile_bytes(
        "pull_survives_hostile_bytes_and_serves_a_pusher",
        Target::Pull,
    );
}

/// SUB: see [`survives_hostile_bytes`].
#[test]
fn sub_survives_hostile_bytes_and_serves_a_publisher() {
    survives_hostile_bytes(
        "sub_survives_hostile_bytes_and_serves_a_publisher",
        Target::Sub,
    );
}

/// REP: see [`survives_hostile_bytes`].
#[test]
fn rep_survives_hostile_bytes_and_serves_a_req() {
    survives_hostile_bytes("rep_survives_hostile_bytes_and_serves_a_req", Target::Rep);
}

/// ROUTER: see [`survives_hostile_bytes`].
#[test]
fn router_survives_hostile_bytes_and_serves_a_dealer() {
    survives_hostile_bytes(
        "router_survives_hostile_bytes_and_serves_a_dealer",
        Target::Router,
    );
}

/// DEALER: see [`survives_hostile_bytes`].
#[test]
fn dealer_survives_hostile_bytes_and_serves_a_dealer() {
    survives_hostile_bytes(
        "dealer_survives_hostile_bytes_and_serves_a_dealer",
        Target::Dealer,
    );
}

/// PAIR: see [`survives_hostile_bytes`].
#[test]
fn pair_survives_hostile_bytes_and_serves_its_peer() {
    survives_hostile_bytes(
        "pair_survives_hostile_bytes_and_serves_its_peer",
        Target::Pair,
    );
}

// ---------------------------------------------------------------------------
// SIGKILL: the monitor sees peers come and go

/// What a monitored connection's protocol heard of its peers.
#[derive(Default)]
struct Watched {
    /// `peer_connected` / `peer_disconnected`, in order, with the endpoint.
    hooks: Vec<(&'static str, String)>,
    /// Every monitor event, in order.
    events: Vec<MonitorEvent>,
    pulled: u64,
}

impl Watched {
    fn count(&self, hook: &str) -> usize {
        self.hooks.iter().filter(|(h, _)| *h == hook).count()
    }
}

/// A PULL protocol that writes down its peers and counts messages.
struct PeerWatcher;

impl PullProtocol<Watched> for PeerWatcher {
    fn on_pull(&mut self, cx: &mut ZmqCtx<'_, Watched, ZmqPullConnection<Watched>>, _: Multipart) {
        cx.state.pulled += 1;
    }
    fn monitor_event(
        &mut self,
        cx: &mut ZmqCtx<'_, Watched, ZmqPullConnection<Watched>>,
        event: &MonitorEvent,
    ) {
        cx.state.events.push(event.clone());
    }
    fn peer_connected(
        &mut self,
        cx: &mut ZmqCtx<'_, Watched, ZmqPullConnection<Watched>>,
        endpoint: &str,
    ) {
        cx.state.hooks.push(("connected", endpoint.to_string()));
    }
    fn peer_disconnected(
        &mut self,
        cx: &mut ZmqCtx<'_, Watched, ZmqPullConnection<Watched>>,
        endpoint: &str,
    ) {
        cx.state.hooks.push(("disconnected", endpoint.to_string()));
    }
}

/// `connected, disconnected` once per killed peer, then `connected`.
fn expected_hooks(endpoint: &str, kills: usize) -> Vec<(&'static str, String)> {
    let mut hooks = Vec::new();
    for _ in 0..kills {
        hooks.push(("connected", endpoint.to_string()));
        hooks.push(("disconnected", endpoint.to_string()));
    }
    hooks.push(("connected", endpoint.to_string()));
    hooks
}

/// Our bound, monitored PULL: a pyzmq PUSH peer connects, is killed with
/// SIGKILL, and is started again, three times. The protocol hears
/// `peer_connected` (an `ACCEPTED`), `peer_disconnected` (a
/// `DISCONNECTED` of the same descriptor) for each killed peer, then
/// `peer_connected` for the last, in that order, all on our endpoint.
/// The monitor's socket closes with the connection: descriptors and memory
/// are back afterwards.
#[test]
fn monitor_on_a_bound_pull_sees_each_killed_pusher_accepted_then_disconnected() {
    let test = "monitor_on_a_bound_pull_sees_each_killed_pusher_accepted_then_disconnected";
    let _serial = serial();
    let env = python_or_skip!(test);
    let before = Resources::measure();
    {
        let (reactor, factory) = reactor_with(Watched::default());
        let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(TCP_ANY)).expect("bind");
        pull.monitor().expect("monitor");
        pull.set_protocol(PeerWatcher).expect("protocol");
        let endpoint = pull.last_endpoint().expect("endpoint");
        for run in 1..=KILLS {
            let name = run.to_string();
            let mut pusher = Peer::start(env, &["push", "--connect", &endpoint, "--run", &name]);
            let what = format!("pusher {run} accepted, and its messages");
            wait_until(&reactor, PATIENCE, &what, Some(&pusher), |s| {
                s.count("connected") == run && s.pulled > 0
            });
            pusher.sigkill();
            let what = format!("pusher {run} disconnected");
            wait_until(&reactor, PATIENCE, &what, None, |s| {
                s.count("disconnected") == run
            });
            reactor.access_state(|s| s.pulled = 0).expect("state");
        }
        let name = (KILLS + 1).to_string();
        let pusher = Peer::start(env, &["push", "--connect", &endpoint, "--run", &name]);
        wait_until(&reactor, PATIENCE, "the last pusher", Some(&pusher), |s| {
            s.count("connected") == KILLS + 1
        });
        reactor
            .access_state(|s| {
                assert_eq!(s.hooks, expected_hooks(&endpoint, KILLS));
                // Each DISCONNECTED is of the descriptor ACCEPTED before it.
                let mut open = None;
                for event in &s.events {
                    match event {
                        MonitorEvent::Accepted { fd, .. } => {
                            assert_eq!(open.replace(*fd), None, "accepted twice: {:?}", s.events)
                        }
                        MonitorEvent::Disconnected { fd, .. } => {
                            assert_eq!(open.take(), Some(*fd), "{:?}", s.events)
                        }
                        _ => {}
                    }
                }
            })
            .expect("state");
        pusher.finish();
        factory.shutdown();
        assert_eq!(pull.monitored_events(), None, "the monitor stopped");
    }
    before.assert_back(test);
}

/// Our connecting, monitored PUSH: a pyzmq PULL peer bound on a fixed port
/// is killed with SIGKILL and started again on the same port, three times.
/// The protocol hears `peer_connected` (a `CONNECTED`), `peer_disconnected`
/// for each killed peer, then `peer_connected` once the last one is up,
/// in that order; libzmq's retries show as `CONNECT_RETRIED` between them.
/// Descriptors and memory are back afterwards.
#[test]
fn monitor_on_a_connecting_push_sees_connected_disconnected_connected() {
    let test = "monitor_on_a_connecting_push_sees_connected_disconnected_connected";
    let _serial = serial();
    let env = python_or_skip!(test);
    let before = Resources::measure();
    {
        let (reactor, factory) = reactor_with(Watched::default());
        let endpoint = tcp();
        let push = ZmqPushConnection::with_options(
            &factory,
            Vec::new(),
            &ZmqOptions::new().reconnect_ivl(Duration::from_millis(50)),
        )
        .expect("PUSH");
        push.monitor().expect("monitor");
        push.on_monitor(|cx, event| {
            cx.state.events.push(event.clone());
            match event {
                MonitorEvent::Connected { endpoint, .. } => {
                    cx.state.hooks.push(("connected", endpoint.clone()))
                }
                MonitorEvent::Disconnected { endpoint, .. } => {
                    cx.state.hooks.push(("disconnected", endpoint.clone()))
                }
                _ => {}
            }
        });
        push.add_endpoints(ZmqEndpoint::connect(&endpoint))
            .expect("connect");
        for run in 1..=KILLS + 1 {
            let name = run.to_string();
            let mut puller = Peer::start(env, &["pull", "--bind", &endpoint, "--run", &name]);
            let what = format!("connected to puller {run}");
            wait_until(&reactor, PATIENCE, &what, Some(&puller), |s| {
                s.count("connected") == run
            });
            let message = format!("{run} 0");
            push.push(message.as_str()).expect("push");
            let got = format!("GOT {message}");
            wait_until(&reactor, PATIENCE, &got, Some(&puller), |_| {
                puller.printed(&got)
            });
            if run > KILLS {
                puller.finish();
                break;
            }
            puller.sigkill();
            let what = format!("disconnected from puller {run}");
            wait_until(&reactor, PATIENCE, &what, None, |s| {
                s.count("disconnected") == run
            });
        }
        reactor
            .access_state(|s| {
                let mut hooks = s.hooks.clone();
                // The last peer's orderly exit may already show.
                if hooks.len() == 2 * KILLS + 2 {
                    assert_eq!(hooks.pop().map(|h| h.0), Some("disconnected"));
                }
                assert_eq!(hooks, expected_hooks(&endpoint, KILLS));
                let names: Vec<&str> = s.events.iter().map(MonitorEvent::name).collect();
                let gone = names
                    .iter()
                    .position(|n| *n == "DISCONNECTED")
                    .expect("gone");
                let back = gone
                    + names[gone..]
                        .iter()
                        .position(|n| *n == "CONNECTED")
                        .expect("back");
                assert!(names[gone..back].contains(&"CONNECT_RETRIED"), "{names:?}");
            })
            .expect("state");
        factory.shutdown();
    }
    before.assert_back(test);
}
