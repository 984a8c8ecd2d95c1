//! Soak: many messages per pattern through our connections over tcp
//! loopback, counting what was lost and watching resident memory.
//!
//!     scripts/soak                      # 10,000,000 messages per pattern
//!     scripts/soak --quick              # 1,000,000 (what CI runs)
//!     scripts/soak --messages N [--pattern pubsub]
//!
//! (`scripts/soak` is `cargo bench --bench soak -- ARGS`.)
//!
//! Each pattern runs in a reactor of its own with both ends in it, each end
//! with its own factory (so its own ZeroMQ context and I/O thread, as two
//! processes would have), the binding end on `tcp://127.0.0.1:*`:
//!
//! - **PUSH/PULL**: a pull producer pushes numbered messages as fast as
//!   libzmq takes them (the outbox holds the rest); the PULL checks each
//!   number is the next.
//! - **PUB/SUB**: messages published with a tag, paced by credit: at most
//!   [`PUB_WINDOW`] published and not yet received. Both ends have no
//!   high-water mark (0, as txZMQ sets), the only place a PUB drops
//!   messages by design, so none may be lost; the credit keeps memory
//!   bounded instead. (With the default mark of 1000, a PUB publishing this
//!   fast drops a few messages even with far fewer than 1000 in flight:
//!   libzmq's sender learns what its reader has taken only in steps of
//!   half the mark, and handles that news at most about once a
//!   millisecond while sending.)
//! - **REQ/REP**: request/reply round trips, [`WINDOW`] requests in flight,
//!   each reply checked against its request.
//! - **ROUTER/DEALER**: the DEALER sends numbered messages with [`WINDOW`]
//!   unanswered, the ROUTER echoes each to its sender, the DEALER checks
//!   the numbers come back in order.
//!
//! Resident memory (`VmRSS`) is sampled when the sending starts, when half
//! the messages have arrived, and at the end. The program exits non-zero when
//! a message was lost, repeated, reordered or corrupted (no pattern here
//! has a reason to drop one: each sender is paced or pushed back before any
//! high-water mark), or when resident memory grew by more than
//! [`RSS_GROWTH_BOUND_MIB`] between the middle and the end of a run.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tx0mq::connections::{
    Multipart, ZmqDealerConnection, ZmqEndpoint, ZmqFactory, ZmqOptions, ZmqPubConnection,
    ZmqPullConnection, ZmqPushConnection, ZmqRepConnection, ZmqReqConnection, ZmqRouterConnection,
    ZmqSubConnection,
};
use tx0mq::reactor::WeakReactor;
use tx0mq::{Failure, LoopingCall, Reactor};

/// Messages per pattern by default, and with `--quick`.
const FULL: u64 = 10_000_000;
const QUICK: u64 = 1_000_000;
/// Bytes per message (its number, then filler).
const SIZE: usize = 64;
/// Requests (REQ/REP) or messages (ROUTER/DEALER) in flight.
const WINDOW: u64 = 100;
/// Messages published and not yet received (PUB/SUB).
const PUB_WINDOW: u64 = 1000;
/// A run that makes no progress for this long is stopped, and what did not
/// arrive is counted as lost.
const STALL: Duration = Duration::from_secs(10);
/// How much resident memory may grow between the middle and the end of a
/// run. By the middle every buffer of the steady state (libzmq's pipes and
/// socket buffers, the outbox, the table of pending requests, the timer
/// heap, the allocator's arenas) has reached its working size, so the second
/// half should need nothing new; 4 MiB leaves room for the allocator's
/// fragmentation, while a leak of one small allocation (16 bytes) per
/// message shows over the second half of even the 1,000,000-message run
/// (7.6 MiB).
const RSS_GROWTH_BOUND_MIB: f64 = 4.0;

/// Resident memory in MiB (`VmRSS` in `/proc/self/status`).
fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status");
    kib / 1024.0
}

/// Message `n`: its number (little-endian), then filler.
fn payload(n: u64) -> Vec<u8> {
    let mut p = vec![0x5a; SIZE];
    p[..8].copy_from_slice(&n.to_le_bytes());
    p
}

/// The number in a message made by [`payload`].
fn number(frame: &[u8]) -> Option<u64> {
    if frame.len() != SIZE {
        return None;
    }
    Some(u64::from_le_bytes(frame[..8].try_into().ok()?))
}

/// What the receiving end of a run counts.
#[derive(Default)]
struct Tally {
    /// How many messages arrived (replies, for REQ/REP).
    received: u64,
    /// The number the next message should carry.
    expected: u64,
    /// Messages that carried an unexpected number, or none.
    wrong: u64,
    /// Numbers skipped over (PUB/SUB: dropped on the way).
    skipped: u64,
    started: Option<Instant>,
    rss: [f64; 3],
    elapsed: Duration,
    done: bool,
}

impl Tally {
    fn start(&mut self) {
        self.rss[0] = rss_mib();
        self.started = Some(Instant::now());
    }

    /// Counts a message carrying `n` out of `total`; true when the run is
    /// over.
    fn count(&mut self, n: Option<u64>, total: u64, skips_allowed: bool) -> bool {
        self.received += 1;
        match n {
            Some(n) if n == self.expected => self.expected += 1,
            Some(n) if skips_allowed && n > self.expected => {
                self.skipped += n - self.expected;
                self.expected = n + 1;
            }
            _ => self.wrong += 1,
        }
        if self.received == total / 2 {
            self.rss[1] = rss_mib();
        }
        let over = self.expected >= total || self.received >= total;
        if over && !self.done {
            self.finish();
        }
        over
    }

    /// Counts a reply, `matching` its request or not; true when the run is
    /// over.
    fn count_reply(&mut self, matching: bool, total: u64) -> bool {
        let n = matching.then_some(self.expected);
        self.count(n, total, false)
    }

    fn finish(&mut self) {
        self.done = true;
        self.rss[2] = rss_mib();
        self.elapsed = self.started.map(|t| t.elapsed()).unwrap_or_default();
    }
}

/// One line of the table.
struct Row {
    pattern: &'static str,
    messages: u64,
    lost: u64,
    wrong: u64,
    /// Why no message may be lost.
    why_none_lost: &'static str,
    rss: [f64; 3],
    seconds: f64,
}

impl Row {
    fn from_tally(
        pattern: &'static str,
        total: u64,
        why_none_lost: &'static str,
        t: &Tally,
    ) -> Row {
        let mut rss = t.rss;
        if !t.done {
            // Stalled: the end is now.
            rss[2] = rss_mib();
        }
        if rss[1] == 0.0 {
            rss[1] = f64::NAN;
        }
        let arrived = t.received - t.wrong;
        Row {
            pattern,
            messages: total,
            lost: total.saturating_sub(arrived),
            wrong: t.wrong,
            why_none_lost,
            rss,
            seconds: t.elapsed.as_secs_f64(),
        }
    }

    fn growth(&self) -> f64 {
        self.rss[2] - self.rss[1]
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.lost > 0 {
            problems.push(format!("{}: {} messages lost", self.pattern, self.lost));
        }
        if self.wrong > 0 {
            problems.push(format!(
                "{}: {} messages out of order, repeated or corrupt",
                self.pattern, self.wrong
            ));
        }
        if self.growth().is_nan() || self.growth() > RSS_GROWTH_BOUND_MIB {
            problems.push(format!(
                "{}: resident memory grew by {:.1} MiB between the middle and the end \
                 (bound {RSS_GROWTH_BOUND_MIB} MiB)",
                self.pattern,
                self.growth()
            ));
        }
        problems
    }
}

/// A reactor whose callbacks re-raise panics, and two factories: one per end.
fn reactor_with<S: 'static>(state: S) -> (Reactor<S>, ZmqFactory<S>, ZmqFactory<S>) {
    let reactor = Reactor::builder()
        .state(state)
        .handle_signals(false)
        .catch_panics(false)
        .build()
        .expect("reactor");
    let a = ZmqFactory::new(&reactor).expect("factory");
    let b = ZmqFactory::new(&reactor).expect("factory");
    (reactor, a, b)
}

/// Runs `reactor` until a callback stops it, or until `progress` has not
/// moved for [`STALL`].
fn run_until_done_or_stalled<S: 'static>(
    reactor: &Reactor<S>,
    mut progress: impl FnMut(&S) -> (u64, bool) + 'static,
) {
    let last = Rc::new(RefCell::new((u64::MAX, Instant::now())));
    let watch = LoopingCall::new(reactor, move |cx| {
        let (now, done) = progress(cx.state);
        let mut last = last.borrow_mut();
        if done {
            return cx.reactor.stop();
        }
        if now != last.0 {
            *last = (now, Instant::now());
        } else if last.1.elapsed() >= STALL {
            eprintln!("stalled at {now} for {STALL:?}: stopping");
            return cx.reactor.stop();
        }
        Ok(())
    });
    watch
        .start(Duration::from_millis(500), false)
        .expect("watch");
    reactor.run().expect("run");
    let _ = watch.stop();
}

fn push_pull(total: u64) -> Row {
    struct State {
        sent: u64,
        tally: Tally,
    }
    let (reactor, sending, receiving) = reactor_with(State {
        sent: 0,
        tally: Tally::default(),
    });
    let pull =
        ZmqPullConnection::new(&receiving, ZmqEndpoint::bind("tcp://127.0.0.1:*")).expect("pull");
    pull.on_pull(move |cx, message| {
        let n = message.first().and_then(|f| number(f));
        if cx.state.tally.count(n, total, false) {
            let _ = cx.reactor.stop();
        }
    });
    let endpoint = pull.last_endpoint().expect("endpoint");
    let push = ZmqPushConnection::new(&sending, ZmqEndpoint::connect(endpoint)).expect("push");
    reactor.access_state(|s| s.tally.start()).expect("state");
    push.produce_with(move |cx| {
        for _ in 0..256 {
            if cx.state.sent == total {
                cx.conn.unregister_producer();
                return;
            }
            cx.conn.push(payload(cx.state.sent)).expect("push");
            cx.state.sent += 1;
            if cx.conn.outbox_len() > 0 {
                return;
            }
        }
    })
    .expect("producer");
    run_until_done_or_stalled(&reactor, |s| (s.tally.received, s.tally.done));
    let row = reactor
        .access_state(|s| Row::from_tally("PUSH/PULL", total, "pushed back: outbox", &s.tally))
        .expect("state");
    sending.shutdown();
    receiving.shutdown();
    row
}

fn pub_sub(total: u64) -> Row {
    struct State {
        published: u64,
        subscribed: bool,
        tally: Tally,
    }
    let (reactor, sending, receiving) = reactor_with(State {
        published: 0,
        subscribed: false,
        tally: Tally::default(),
    });
    let unlimited = ZmqOptions::new().high_water_mark(0);
    let publisher = ZmqPubConnection::with_options(
        &sending,
        ZmqEndpoint::bind("tcp://127.0.0.1:*"),
        &unlimited,
    )
    .expect("pub");
    let endpoint = publisher.last_endpoint().expect("endpoint");
    let sub =
        ZmqSubConnection::with_options(&receiving, ZmqEndpoint::connect(endpoint), &unlimited)
            .expect("sub");
    sub.subscribe(b"").expect("subscribe");
    let feed = publisher.clone();
    sub.got_message(move |cx, message, tag| {
        let state = &mut *cx.state;
        if &tag[..] == b"probe" {
            if !state.subscribed {
                state.subscribed = true;
                state.tally.start();
            }
        } else if state.tally.count(number(&message), total, true) {
            let _ = cx.reactor.stop();
            return;
        }
        // Credit: keep PUB_WINDOW published and not yet received.
        while state.subscribed
            && state.published < total
            && state.published < state.tally.expected + PUB_WINDOW
        {
            feed.publish(payload(state.published), b"soak")
                .expect("publish");
            state.published += 1;
        }
    });
    // ZeroMQ's slow joiner: a subscription reaches the publisher some time
    // after the connection, so probes go out until one arrives.
    let prober = publisher.clone();
    let probe = LoopingCall::new(&reactor, move |cx| {
        if !cx.state.subscribed {
            prober.publish(b"", b"probe").expect("probe");
        }
    });
    probe.start(Duration::from_millis(10), true).expect("probe");
    run_until_done_or_stalled(&reactor, |s| (s.tally.received, s.tally.done));
    let _ = probe.stop();
    let row = reactor
        .access_state(|s| Row::from_tally("PUB/SUB", total, "HWM 0, credit-paced", &s.tally))
        .expect("state");
    sending.shutdown();
    receiving.shutdown();
    row
}

/// REQ/REP: the tally lives outside the reactor's state, where the
/// Deferreds' callbacks can reach it.
fn req_rep(total: u64) -> Row {
    struct Client {
        sent: u64,
        tally: Tally,
    }
    let (reactor, sending, receiving) = reactor_with(());
    let rep =
        ZmqRepConnection::new(&receiving, ZmqEndpoint::bind("tcp://127.0.0.1:*")).expect("rep");
    rep.got_message(|cx, id, parts| cx.conn.reply(&id, parts));
    let endpoint = rep.last_endpoint().expect("endpoint");
    let req = ZmqReqConnection::new(&sending, ZmqEndpoint::connect(endpoint)).expect("req");
    let client = Rc::new(RefCell::new(Client {
        sent: 0,
        tally: Tally::default(),
    }));

    fn send_next(
        req: &ZmqReqConnection,
        client: &Rc<RefCell<Client>>,
        reactor: &WeakReactor<()>,
        total: u64,
    ) {
        let n = {
            let mut c = client.borrow_mut();
            if c.sent == total {
                return;
            }
            c.sent += 1;
            c.sent - 1
        };
        let (again, client, reactor) = (req.clone(), client.clone(), reactor.clone());
        // A generous timeout: a lost request shows as a failure instead of
        // waiting forever (the stall watch ends the run first).
        req.send_msg_with_timeout(payload(n), Duration::from_secs(60))
            .then_both(move |reply: Result<Multipart, Failure>| {
                let over = {
                    let mut c = client.borrow_mut();
                    if c.tally.done {
                        return Ok::<(), Failure>(());
                    }
                    // Each reply must carry its own request's number.
                    let got = reply.ok().and_then(|r| r.first().and_then(|f| number(f)));
                    c.tally.count_reply(got == Some(n), total)
                };
                if over {
                    if let Some(r) = reactor.upgrade() {
                        let _ = r.stop();
                    }
                } else {
                    send_next(&again, &client, &reactor, total);
                }
                Ok(())
            });
    }

    client.borrow_mut().tally.start();
    let weak = reactor.downgrade();
    for _ in 0..WINDOW {
        send_next(&req, &client, &weak, total);
    }
    let watched = client.clone();
    run_until_done_or_stalled(&reactor, move |_| {
        let c = watched.borrow();
        (c.tally.received, c.tally.done)
    });
    let row = Row::from_tally("REQ/REP", total, "100 in flight", &client.borrow().tally);
    client.borrow_mut().tally.done = true;
    sending.shutdown();
    receiving.shutdown();
    row
}

fn router_dealer(total: u64) -> Row {
    struct State {
        sent: u64,
        tally: Tally,
    }
    let (reactor, sending, receiving) = reactor_with(State {
        sent: 0,
        tally: Tally::default(),
    });
    let router = ZmqRouterConnection::new(&receiving, ZmqEndpoint::bind("tcp://127.0.0.1:*"))
        .expect("router");
    router.got_message(|cx, sender, parts| cx.conn.send_msg(&sender, parts));
    let endpoint = router.last_endpoint().expect("endpoint");
    let dealer =
        ZmqDealerConnection::new(&sending, ZmqEndpoint::connect(endpoint)).expect("dealer");
    fn pump(state: &mut State, dealer: &ZmqDealerConnection<State>, total: u64) {
        while state.sent < total && state.sent < state.tally.received + WINDOW {
            dealer.send_msg(payload(state.sent)).expect("send");
            state.sent += 1;
        }
    }
    dealer.got_message(move |cx, message| {
        let n = message.first().and_then(|f| number(f));
        if cx.state.tally.count(n, total, false) {
            let _ = cx.reactor.stop();
            return;
        }
        pump(cx.state, cx.conn, total);
    });
    reactor
        .access_state(|s| {
            s.tally.start();
            pump(s, &dealer, total);
        })
        .expect("state");
    run_until_done_or_stalled(&reactor, |s| (s.tally.received, s.tally.done));
    let row = reactor
        .access_state(|s| Row::from_tally("ROUTER/DEALER", total, "100 in flight", &s.tally))
        .expect("state");
    sending.shutdown();
    receiving.shutdown();
    row
}

/// One pattern's soak: runs `total` messages and reports.
type Soak = fn(u64) -> Row;

fn mib(v: f64) -> String {
    format!("{v:.1}")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let total = match value("--messages") {
        Some(n) => n
            .replace(['_', ','], "")
            .parse()
            .unwrap_or_else(|_| panic!("--messages takes a number, not {n:?}")),
        None if args.iter().any(|a| a == "--quick") => QUICK,
        None => FULL,
    };
    assert!(total >= 2, "--messages must be at least 2");
    let only = value("--pattern").map(|p| p.to_lowercase().replace('/', ""));
    let patterns: [(&str, Soak); 4] = [
        ("pushpull", push_pull),
        ("pubsub", pub_sub),
        ("reqrep", req_rep),
        ("routerdealer", router_dealer),
    ];
    let started = Instant::now();
    let mut rows = Vec::new();
    for (name, run) in patterns {
        if only.as_deref().is_some_and(|o| !name.contains(o)) {
            continue;
        }
        eprintln!("soak: {name}, {total} messages ...");
        let row = run(total);
        eprintln!(
            "soak: {name}: {:.1} s, {} lost, RSS {} / {} / {} MiB",
            row.seconds,
            row.lost,
            mib(row.rss[0]),
            mib(row.rss[1]),
            mib(row.rss[2])
        );
        rows.push(row);
    }

    println!();
    println!("## Soak: {total} messages per pattern, {SIZE} B, tcp loopback");
    println!();
    println!(
        "| pattern | messages | lost | why none may be lost | RSS start MiB | RSS mid MiB \
         | RSS end MiB | seconds | msg/s |"
    );
    println!("|---|---:|---:|---|---:|---:|---:|---:|---:|");
    for row in &rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.1} | {:.0} |",
            row.pattern,
            row.messages,
            row.lost,
            row.why_none_lost,
            mib(row.rss[0]),
            mib(row.rss[1]),
            mib(row.rss[2]),
            row.seconds,
            row.messages as f64 / row.seconds
        );
    }
    println!();
    println!(
        "RSS bound: at most {RSS_GROWTH_BOUND_MIB} MiB growth between the middle and the end \
         of each run. Total time {:.1} s.",
        started.elapsed().as_secs_f64()
    );
    let problems: Vec<String> = rows.iter().flat_map(Row::problems).collect();
    if !problems.is_empty() {
        println!();
        for problem in &problems {
            println!("FAILED: {problem}");
        }
        std::process::exit(1);
    }
}
