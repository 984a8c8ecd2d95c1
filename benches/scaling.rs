//! Scaling: N `ZmqPullConnection`s in one reactor (N = 1, 10, 100, 1,000),
//! fed round-robin over ipc with 1 B messages by a fast external sender,
//! against a plain `zmq_poll` loop over the same N PULL sockets.
//!
//!     cargo bench --bench scaling [-- --quick] [-- --filter n1000]
//!
//! The sender is a process of its own: one rust-zmq PUSH connected to all N
//! endpoints, which libzmq load-balances round-robin. Each receiver is a
//! process too, binding the N endpoints and timing itself from its first
//! message to its last (over all sockets). Pinned runs put the sender on
//! CPU 0 and the receiver on CPU 1; unpinned runs leave both to the
//! scheduler. Rows give medians and ranges over alternating rounds, with
//! the reactor's busy share (CPU time of its process over wall time; below
//! about 0.9 pinned, it waited for messages).
//!
//! Targets: at N = 1,000 at least half our own N = 1 rate, and ahead of the
//! `zmq_poll` loop at every N. 1,000 ipc PULLs take about 4,000
//! descriptors (libzmq 4.3.4 gives every socket a socketpair mailbox), so
//! every process raises its soft descriptor limit to the hard one.

use std::process::Command;
use std::time::{Duration, Instant};

use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqPullConnection};
use tx0mq::Reactor;

mod common;
use common::procs::{self, Placement, Window};
use common::{pin_to_cpu, Options, Spread};

const SENDER_CPU: usize = 0;
const RECEIVER_CPU: usize = 1;

/// libzmq caps a context at 1023 sockets.
const PER_CONTEXT: usize = 1000;

fn endpoints(prefix: &str, n: usize) -> Vec<String> {
    let dir = std::env::temp_dir();
    (0..n)
        .map(|i| format!("ipc://{}/tx0mq-scale-{prefix}-{i}.ipc", dir.display()))
        .collect()
}

fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn slack(m: usize) -> usize {
    m / 50 + 100
}

/// `--role recv-reactor|recv-poll PREFIX N M PIN`: bind N endpoints, count
/// M messages over all of them, print the rate and busy share.
fn role_receive(kind: &str, prefix: &str, n: usize, m: usize, pin: bool) {
    procs::raise_fd_limit();
    if pin {
        pin_to_cpu(RECEIVER_CPU);
    }
    let addresses = endpoints(prefix, n);
    let (wall, busy) = if kind == "recv-reactor" {
        struct Count {
            seen: usize,
            m: usize,
            window: Option<Window>,
            result: Option<(Duration, f64, f64)>,
        }
        let reactor = Reactor::builder()
            .state(Count {
                seen: 0,
                m,
                window: None,
                result: None,
            })
            .handle_signals(false)
            .build()
            .expect("reactor");
        let factories: Vec<ZmqFactory<Count>> = (0..n.div_ceil(PER_CONTEXT))
            .map(|_| ZmqFactory::new(&reactor).expect("factory"))
            .collect();
        let mut pulls = Vec::with_capacity(n);
        for (i, address) in addresses.iter().enumerate() {
            let pull = ZmqPullConnection::new(
                &factories[i / PER_CONTEXT],
                ZmqEndpoint::bind(address.as_str()),
            )
            .expect("pull");
            pull.on_pull(|cx, _message| {
                let count = &mut *cx.state;
                count.seen += 1;
                if count.seen == 1 {
                    count.window = Some(Window::start());
                }
                if count.seen == count.m {
                    count.result = count.window.map(|w| w.stop());
                    let _ = cx.reactor.stop();
                }
            });
            pulls.push(pull);
        }
        say("ready");
        reactor.run().expect("run");
        let (wall, busy, _) = reactor
            .access_state(|c| c.result)
            .expect("state")
            .expect("result");
        (wall, busy)
    } else {
        let contexts: Vec<zmq::Context> = (0..n.div_ceil(PER_CONTEXT))
            .map(|_| zmq::Context::new())
            .collect();
        let sockets: Vec<zmq::Socket> = addresses
            .iter()
            .enumerate()
            .map(|(i, address)| {
                let pull = contexts[i / PER_CONTEXT].socket(zmq::PULL).expect("socket");
                pull.bind(address).expect("bind");
                pull
            })
            .collect();
        say("ready");
        let mut items: Vec<zmq::PollItem> = sockets
            .iter()
            .map(|s| s.as_poll_item(zmq::POLLIN))
            .collect();
        let mut msg = zmq::Message::new();
        let mut seen = 0usize;
        let mut window = None;
        while seen < m {
            zmq::poll(&mut items, -1).expect("poll");
            for (i, item) in items.iter().enumerate() {
                if !item.is_readable() {
                    continue;
                }
                // Drain what is there, as a reactor batch would.
                while seen < m && sockets[i].recv(&mut msg, zmq::DONTWAIT).is_ok() {
                    seen += 1;
                    if seen == 1 {
                        window = Some(Window::start());
                    }
                }
            }
        }
        let (wall, busy, _) = window.expect("window").stop();
        (wall, busy)
    };
    say(&format!(
        "result rate={:.1} busy={busy:.3}",
        (m - 1) as f64 / wall.as_secs_f64()
    ));
    std::process::exit(0);
}

/// `--role send PREFIX N M PIN`: one PUSH connected to the N endpoints
/// sends M (and a few more) 1 B messages, then waits to be ended.
fn role_send(prefix: &str, n: usize, m: usize, pin: bool) {
    procs::raise_fd_limit();
    if pin {
        pin_to_cpu(SENDER_CPU);
    }
    let context = zmq::Context::new();
    let push = context.socket(zmq::PUSH).expect("socket");
    push.set_reconnect_ivl(10).expect("ivl");
    for address in endpoints(prefix, n) {
        push.connect(&address).expect("connect");
    }
    for _ in 0..m + slack(m) {
        push.send(&b"x"[..], 0).expect("send");
    }
    std::thread::sleep(Duration::from_secs(3600));
}

/// One run: the receiver `kind` against the sender; (rate, busy).
fn run(kind: &str, n: usize, m: usize, pinned: bool, tag: &str, limit: Duration) -> (f64, f64) {
    let exe = std::env::current_exe().expect("exe");
    let prefix = format!("{}-{tag}", std::process::id());
    let command = |role: &str| {
        let mut command = Command::new(&exe);
        command.args([
            "--role",
            role,
            &prefix,
            &n.to_string(),
            &m.to_string(),
            if pinned { "1" } else { "0" },
        ]);
        command
    };
    let mut receiver = procs::launch(command(kind), Placement::Unpinned);
    let failed = (f64::NAN, f64::NAN);
    if receiver
        .wait_for("ready", Instant::now() + Duration::from_secs(30))
        .is_none()
    {
        return failed;
    }
    let _sender = procs::launch(command("send"), Placement::Unpinned);
    let result = receiver.wait_for("result rate=", Instant::now() + limit);
    for address in endpoints(&prefix, n) {
        let _ = std::fs::remove_file(address.trim_start_matches("ipc://"));
    }
    match result {
        Some(line) => (
            procs::first_and(&line, "rate", "rate").unwrap_or(f64::NAN),
            procs::first_and(&line, "rate", "busy").unwrap_or(f64::NAN),
        ),
        None => {
            eprintln!("  {kind} n={n}: timed out");
            failed
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--role") {
        let num = |i: usize| args[i].parse::<usize>().expect("number");
        let pin = args[5] == "1";
        match args[1].as_str() {
            "send" => role_send(&args[2], num(3), num(4), pin),
            kind => role_receive(kind, &args[2], num(3), num(4), pin),
        }
        return;
    }
    let options = Options::from_args();
    let m = options.pick(2_000_000, 200_000);
    let limit = Duration::from_secs(if options.quick { 30 } else { 120 });
    println!();
    println!("## Scaling (1 B over ipc, messages/s over all N sockets, median (min–max))");
    println!();
    println!("| N | placement | reactor | zmq_poll loop | reactor / zmq_poll | reactor / own N=1 | busy |");
    println!("|---:|---|---:|---:|---:|---:|---:|");
    let mut lines = Vec::new();
    for pinned in [true, false] {
        let place = if pinned { "pinned" } else { "unpinned" };
        let mut base = f64::NAN;
        for n in [1usize, 10, 100, 1000] {
            let name = format!("scaling_ipc_1B_n{n}_{place}");
            if !options.wants(&name) {
                continue;
            }
            let (mut ours, mut poll, mut busy) = (Vec::new(), Vec::new(), Vec::new());
            for round in 0..options.rounds {
                let tag = format!("{n}-{round}-{place}");
                let mut reactor = || {
                    let (rate, b) = run("recv-reactor", n, m, pinned, &format!("r{tag}"), limit);
                    ours.push(rate);
                    busy.push(b);
                };
                let mut polled =
                    || poll.push(run("recv-poll", n, m, pinned, &format!("p{tag}"), limit).0);
                if round % 2 == 0 {
                    reactor();
                    polled();
                } else {
                    polled();
                    reactor();
                }
            }
            let (ours, poll, busy) = (Spread::of(&ours), Spread::of(&poll), Spread::of(&busy));
            if n == 1 {
                base = ours.median;
            }
            println!(
                "| {n} | {place} | {} | {} | {:.2} | {:.2} | {:.2} |",
                ours.show(),
                poll.show(),
                ours.median / poll.median,
                ours.median / base,
                busy.median
            );
            lines.push(format!(
                "BENCH {name} reactor={:.1} raw={:.1} ratio={:.3} unit=msg/s reactor_min={:.1} reactor_max={:.1} raw_min={:.1} raw_max={:.1} vs_n1={:.3} busy={:.3}",
                ours.median,
                poll.median,
                ours.median / poll.median,
                ours.min,
                ours.max,
                poll.min,
                poll.max,
                ours.median / base,
                busy.median
            ));
        }
    }
    println!();
    for line in lines {
        println!("{line}");
    }
}
