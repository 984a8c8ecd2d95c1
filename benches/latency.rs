//! Round-trip latency, 1 B and 1 KiB, p50 and p99, over tcp loopback:
//! `ZmqReqConnection` (Deferred) ↔ `ZmqRepConnection`, and DEALER ↔ ROUTER
//! connections, each side in its own reactor on its own thread, against raw
//! REQ ↔ REP sockets on two threads. Every side, reactor or raw, has its own
//! ZeroMQ context (so its own I/O thread), as two processes would: a raw pair
//! sharing one I/O thread would have one thread fewer to schedule and be
//! measured on a different topology. The client side (its thread and its
//! I/O thread) is pinned to CPU 0 and the server side to CPU 1, for reactor
//! and raw alike: unpinned, where the scheduler happens to put four busy
//! threads on two CPUs moved single runs by ±20 %.
//!
//!     cargo bench --bench latency [-- --quick]
//!
//! Ratios are reactor time / raw time: lower is better, 1.0 is parity.
//!
//! libzmq's own pair, `local_lat` (REP, on the server's CPU) and
//! `remote_lat` (REQ, on the client's), runs as two processes in the same
//! rounds. It reports only the mean (`remote_lat` prints half the mean round
//! trip), so the `_mean` rows set the reactor's mean round trip against it;
//! the p50 and p99 rows compare with the rust-zmq REQ/REP pair.

use std::sync::mpsc;
use std::thread;
use std::time::Instant;

use tx0mq::connections::{
    ZmqDealerConnection, ZmqEndpoint, ZmqFactory, ZmqRepConnection, ZmqReqConnection,
    ZmqRouterConnection,
};
use tx0mq::Reactor;

mod common;
use common::procs::{self, Placement};
use common::{median, pin_to_cpu, quantile, report, Options, Row};

/// Round-trip times in microseconds, sorted.
type Samples = Vec<f64>;

/// The CPU each side runs on (see the module comment).
const CLIENT_CPU: usize = 0;
const SERVER_CPU: usize = 1;

fn raw_reqrep(size: usize, n: usize) -> Samples {
    let (tx, rx) = mpsc::channel();
    let server = thread::spawn(move || {
        // The context starts its I/O thread with the first socket, so both
        // inherit the pin.
        pin_to_cpu(SERVER_CPU);
        let context = zmq::Context::new();
        let rep = context.socket(zmq::REP).expect("socket");
        rep.bind("tcp://127.0.0.1:*").expect("bind");
        let endpoint = rep.get_last_endpoint().expect("endpoint").expect("utf8");
        tx.send(endpoint).expect("send endpoint");
        let mut msg = zmq::Message::new();
        for _ in 0..n {
            rep.recv(&mut msg, 0).expect("recv");
            rep.send(&msg[..], 0).expect("send");
        }
        (context, rep) // closed after the client has its last reply
    });
    let endpoint = rx.recv().expect("endpoint");
    let context = zmq::Context::new();
    let req = context.socket(zmq::REQ).expect("socket");
    req.connect(&endpoint).expect("connect");
    let payload = vec![7u8; size];
    let mut msg = zmq::Message::new();
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        req.send(&payload[..], 0).expect("send");
        req.recv(&mut msg, 0).expect("recv");
        samples.push(started.elapsed().as_secs_f64() * 1e6);
    }
    drop(server.join().expect("server"));
    samples.sort_by(|a, b| a.total_cmp(b));
    samples
}

/// libzmq's `local_lat`/`remote_lat` pair, pinned like the other pairs:
/// the mean round trip in microseconds (NaN if the tools are unavailable).
fn libzmq_pair(size: usize, n: usize) -> f64 {
    let tool = |name: &str| match procs::perf_tool(name) {
        Ok(path) => Some(std::process::Command::new(path)),
        Err(e) => {
            eprintln!("{name} unavailable: {e}");
            None
        }
    };
    let (Some(mut local), Some(mut remote)) = (tool("local_lat"), tool("remote_lat")) else {
        return f64::NAN;
    };
    let endpoint = format!("tcp://127.0.0.1:{}", procs::free_tcp_port());
    let (size, n) = (size.to_string(), n.to_string());
    local.args([&endpoint, &size, &n]);
    remote.args([&endpoint, &size, &n]);
    let _server = procs::launch(local, Placement::Pinned(SERVER_CPU));
    std::thread::sleep(std::time::Duration::from_millis(30));
    let mut client = procs::launch(remote, Placement::Pinned(CLIENT_CPU));
    let deadline = Instant::now() + std::time::Duration::from_secs(120);
    client
        .wait_for("average latency: ", deadline)
        .and_then(|l| l.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |half| 2.0 * half)
}

fn mean(samples: &[f64]) -> f64 {
    samples.iter().sum::<f64>() / samples.len().max(1) as f64
}

/// An echo server in its own reactor on its own thread (pinned to the
/// server's CPU): REP (`reply`) or ROUTER (`send_msg` back to the sender).
struct Server {
    endpoint: String,
    handle: tx0mq::reactor::ThreadHandle<()>,
    join: thread::JoinHandle<()>,
}

impl Server {
    fn start(router: bool) -> Server {
        let (tx, rx) = mpsc::channel();
        let join = thread::spawn(move || {
            pin_to_cpu(SERVER_CPU);
            let (reactor, factory) = reactor_with(());
            let endpoint = if router {
                let conn =
                    ZmqRouterConnection::new(&factory, ZmqEndpoint::bind("tcp://127.0.0.1:*"))
                        .expect("router");
                conn.got_message(|cx, sender, parts| cx.conn.send_msg(&sender, parts));
                conn.last_endpoint().expect("endpoint")
            } else {
                let conn = ZmqRepConnection::new(&factory, ZmqEndpoint::bind("tcp://127.0.0.1:*"))
                    .expect("rep");
                conn.got_message(|cx, id, parts| cx.conn.reply(&id, parts));
                conn.last_endpoint().expect("endpoint")
            };
            tx.send((endpoint, reactor.thread_handle()))
                .expect("send endpoint");
            reactor.run().expect("run");
            factory.shutdown();
        });
        let (endpoint, handle) = rx.recv().expect("endpoint");
        Server {
            endpoint,
            handle,
            join,
        }
    }

    /// Stops the server's reactor and waits for its thread.
    fn stop(self) {
        let _ = self.handle.call_from_thread(|cx| cx.reactor.stop());
        self.join.join().expect("server");
    }
}

/// A reactor (no signal handling) and its factory.
fn reactor_with<S: 'static>(state: S) -> (Reactor<S>, ZmqFactory<S>) {
    let reactor = Reactor::builder()
        .state(state)
        .handle_signals(false)
        .build()
        .expect("reactor");
    let factory = ZmqFactory::new(&reactor).expect("factory");
    (reactor, factory)
}

struct Client {
    left: usize,
    started: Instant,
    samples: Samples,
}

fn reactor_reqrep(size: usize, n: usize) -> Samples {
    use std::cell::RefCell;
    use std::rc::Rc;
    let server = Server::start(false);
    let (reactor, factory) = reactor_with(());
    let req = ZmqReqConnection::new(&factory, ZmqEndpoint::connect(&server.endpoint)).expect("req");
    // Deferred callbacks get no reactor context, so the samples are shared
    // the plain way here; the next request goes out from the callback itself.
    let samples: Rc<RefCell<Samples>> = Rc::new(RefCell::new(Vec::with_capacity(n)));
    fn ask(
        reactor: Reactor,
        req: ZmqReqConnection,
        payload: Rc<Vec<u8>>,
        samples: Rc<RefCell<Samples>>,
        left: usize,
    ) {
        let started = Instant::now();
        let next = req.clone();
        req.send_msg(&payload[..]).add_callback(move |reply| {
            samples
                .borrow_mut()
                .push(started.elapsed().as_secs_f64() * 1e6);
            if left == 1 {
                let _ = reactor.stop();
            } else {
                ask(reactor, next, payload, samples, left - 1);
            }
            Ok(reply)
        });
    }
    ask(
        reactor.clone(),
        req,
        Rc::new(vec![7u8; size]),
        samples.clone(),
        n,
    );
    reactor.run().expect("run");
    server.stop();
    factory.shutdown();
    let mut samples = samples.take();
    samples.sort_by(|a, b| a.total_cmp(b));
    samples
}

/// The REQ/REP round trip written as a coroutine: `send_msg(..).await` in a
/// loop, as an `inlineCallbacks` client would be.
fn reactor_reqrep_async(size: usize, n: usize) -> Samples {
    let server = Server::start(false);
    let (reactor, factory) = reactor_with(());
    let req = ZmqReqConnection::new(&factory, ZmqEndpoint::connect(&server.endpoint)).expect("req");
    let payload = vec![7u8; size];
    let samples = reactor
        .run_until_complete(async move {
            let mut samples = Vec::with_capacity(n);
            for _ in 0..n {
                let started = Instant::now();
                req.send_msg(&payload[..]).await?;
                samples.push(started.elapsed().as_secs_f64() * 1e6);
            }
            Ok::<Samples, tx0mq::Failure>(samples)
        })
        .expect("run")
        .expect("requests");
    server.stop();
    factory.shutdown();
    let mut samples = samples;
    samples.sort_by(|a, b| a.total_cmp(b));
    samples
}

fn reactor_dealer_router(size: usize, n: usize) -> Samples {
    let server = Server::start(true);
    let (reactor, factory) = reactor_with(Client {
        left: n,
        started: Instant::now(),
        samples: Vec::with_capacity(n),
    });
    let dealer =
        ZmqDealerConnection::new(&factory, ZmqEndpoint::connect(&server.endpoint)).expect("dealer");
    let payload = vec![7u8; size];
    let again = payload.clone();
    dealer.got_message(move |cx, _reply| {
        let client = &mut *cx.state;
        client
            .samples
            .push(client.started.elapsed().as_secs_f64() * 1e6);
        client.left -= 1;
        if client.left == 0 {
            return cx.reactor.stop().map_err(|e| e.to_string());
        }
        client.started = Instant::now();
        cx.conn.send_msg(&again[..]).map_err(|e| e.to_string())
    });
    reactor
        .access_state(|c| c.started = Instant::now())
        .expect("state");
    dealer.send_msg(&payload[..]).expect("send");
    reactor.run().expect("run");
    server.stop();
    factory.shutdown();
    let mut samples = reactor
        .access_state(|c| std::mem::take(&mut c.samples))
        .expect("state");
    samples.sort_by(|a, b| a.total_cmp(b));
    samples
}

fn main() {
    let options = Options::from_args();
    let n = options.pick(20_000, 3_000);
    // Every client, raw or reactor, runs on this thread; its context's I/O
    // thread inherits the pin.
    let pinned = pin_to_cpu(CLIENT_CPU);
    eprintln!(
        "client side on CPU {CLIENT_CPU}, server side on CPU {SERVER_CPU}: {}",
        if pinned {
            "pinned"
        } else {
            "not pinned (one CPU, or refused)"
        }
    );
    let mut rows = Vec::new();
    let mut p50_by_flavour: Vec<(&str, &str, f64)> = Vec::new();
    for size in [1usize, 1024] {
        let size_name = if size == 1 { "1B" } else { "1KiB" };
        for (flavour, run) in [
            ("reqrep", reactor_reqrep as fn(usize, usize) -> Samples),
            ("dealer_router", reactor_dealer_router),
            ("reqrep_async", reactor_reqrep_async),
        ] {
            let name = format!("rtt_{flavour}_{size_name}");
            if !options.wants(&name) {
                continue;
            }
            let (mut p50s, mut p99s, mut raw50s, mut raw99s) = (vec![], vec![], vec![], vec![]);
            let (mut means, mut pair_means) = (vec![], vec![]);
            for round in 0..options.rounds {
                let (ours, raw) = if round % 2 == 0 {
                    let ours = run(size, n);
                    pair_means.push(libzmq_pair(size, n));
                    (ours, raw_reqrep(size, n))
                } else {
                    let raw = raw_reqrep(size, n);
                    pair_means.push(libzmq_pair(size, n));
                    (run(size, n), raw)
                };
                means.push(mean(&ours));
                p50s.push(quantile(&ours, 0.5));
                p99s.push(quantile(&ours, 0.99));
                raw50s.push(quantile(&raw, 0.5));
                raw99s.push(quantile(&raw, 0.99));
            }
            let (p50, p99) = (median(&mut p50s), median(&mut p99s));
            let (r50, r99) = (median(&mut raw50s), median(&mut raw99s));
            eprintln!("{name}: p50 {p50:.1} us (raw {r50:.1}), p99 {p99:.1} us (raw {r99:.1})");
            rows.push(Row {
                name: format!("{name}_p50"),
                reactor: p50,
                raw: r50,
                unit: "us",
            });
            rows.push(Row {
                name: format!("{name}_p99"),
                reactor: p99,
                raw: r99,
                unit: "us",
            });
            pair_means.retain(|m| m.is_finite());
            if !pair_means.is_empty() {
                let (ours, pair) = (median(&mut means), median(&mut pair_means));
                eprintln!("{name}: mean {ours:.1} us (libzmq local_lat/remote_lat {pair:.1})");
                rows.push(Row {
                    name: format!("{name}_mean_vs_libzmq_pair"),
                    reactor: ours,
                    raw: pair,
                    unit: "us",
                });
            }
            p50_by_flavour.push((flavour, size_name, p50));
        }
    }
    // The coroutine form against the callback form of the same round trip.
    for size_name in ["1B", "1KiB"] {
        let find = |flavour: &str| {
            p50_by_flavour
                .iter()
                .find(|(f, s, _)| *f == flavour && *s == size_name)
                .map(|(_, _, p50)| *p50)
        };
        if let (Some(async_p50), Some(callback_p50)) = (find("reqrep_async"), find("reqrep")) {
            rows.push(Row {
                name: format!("rtt_reqrep_async_vs_callback_{size_name}_p50"),
                reactor: async_p50,
                raw: callback_p50,
                unit: "us",
            });
        }
    }
    report(
        "Round-trip latency",
        "Microseconds per round trip (lower is better); ratio = reactor time / raw time, so lower is better. \
         The async_vs_callback rows compare the coroutine client (reactor) with the callback client (raw).",
        &rows,
    );
}
