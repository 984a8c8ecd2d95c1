//! Many sockets: one active PUSH→PULL stream (1 B over tcp) while 10,000 idle
//! sockets are registered in the reactor, as a ratio to the same stream with
//! no idle sockets; and the same comparison for a plain `zmq::poll` loop
//! over 10,001 items.
//!
//!     cargo bench --bench many_sockets [-- --quick]

use std::thread;
use std::time::{Duration, Instant};

use tx0mq::connections::{ZmqEndpoint, ZmqFactory, ZmqPullConnection};
use tx0mq::Reactor;

mod common;
use common::{alternate, rate, report, Options, Row};

/// Sends `n` messages; hands the socket back so that it closes only after
/// the receiver is done (libzmq can lose in-flight messages otherwise).
fn sender(endpoint: String, n: usize) -> thread::JoinHandle<(zmq::Context, zmq::Socket)> {
    thread::spawn(move || {
        let context = zmq::Context::new();
        let push = context.socket(zmq::PUSH).expect("socket");
        push.connect(&endpoint).expect("connect");
        for _ in 0..n {
            push.send(&b"x"[..], 0).expect("send");
        }
        (context, push)
    })
}

/// The active stream in the reactor, with `idle` idle connections beside it.
fn reactor_stream(idle: usize, n: usize) -> f64 {
    let reactor = Reactor::builder()
        .state((0usize, None::<Instant>, Duration::ZERO))
        .handle_signals(false)
        .build()
        .expect("reactor");
    let factory = ZmqFactory::with_context(&reactor, common::context_for(idle + 1));
    let mut idle_connections = Vec::with_capacity(idle);
    for i in 0..idle {
        let pull =
            ZmqPullConnection::new(&factory, ZmqEndpoint::bind(format!("inproc://idle-{i}")))
                .expect("idle pull");
        pull.on_pull(|_, _| ());
        idle_connections.push(pull);
    }
    let pull =
        ZmqPullConnection::new(&factory, ZmqEndpoint::bind("tcp://127.0.0.1:*")).expect("pull");
    pull.on_pull(move |cx, _| {
        let (seen, first, elapsed) = &mut *cx.state;
        *seen += 1;
        if *seen == 1 {
            *first = Some(Instant::now());
        }
        if *seen == n {
            *elapsed = first.map(|t| t.elapsed()).unwrap_or_default();
            let _ = cx.reactor.stop();
        }
    });
    let push = sender(pull.last_endpoint().expect("endpoint"), n);
    reactor.run().expect("run");
    drop(push.join().expect("sender"));
    factory.shutdown();
    rate(n - 1, reactor.access_state(|s| s.2).expect("state"))
}

/// The active stream in a `zmq::poll` loop over it and `idle` idle sockets.
fn poll_stream(idle: usize, n: usize) -> f64 {
    let context = common::context_for(idle + 1);
    let mut sockets = Vec::with_capacity(idle + 1);
    let active = context.socket(zmq::PULL).expect("socket");
    active.bind("tcp://127.0.0.1:*").expect("bind");
    let endpoint = active.get_last_endpoint().expect("endpoint").expect("utf8");
    sockets.push(active);
    for i in 0..idle {
        let socket = context.socket(zmq::PULL).expect("socket");
        socket
            .bind(&format!("inproc://poll-idle-{i}"))
            .expect("bind");
        sockets.push(socket);
    }
    let push = sender(endpoint, n);
    let mut items: Vec<zmq::PollItem> = sockets
        .iter()
        .map(|s| s.as_poll_item(zmq::POLLIN))
        .collect();
    let mut msg = zmq::Message::new();
    let mut seen = 0usize;
    let mut first = None;
    while seen < n {
        zmq::poll(&mut items, -1).expect("poll");
        if items[0].is_readable() {
            // Drain what is there, as a reactor batch would.
            while seen < n && sockets[0].recv(&mut msg, zmq::DONTWAIT).is_ok() {
                seen += 1;
                if seen == 1 {
                    first = Some(Instant::now());
                }
            }
        }
    }
    let elapsed = first.map(|t| t.elapsed()).unwrap_or_default();
    drop(push.join().expect("sender"));
    rate(n - 1, elapsed)
}

fn main() {
    let options = Options::from_args();
    // libzmq 4.3.4 uses two descriptors per socket, and these machines cap
    // a process at 20,000 descriptors (hard limit), so 10,000 idle sockets
    // cannot be opened: 9,000 is the most that fits with the stream's own.
    let idle = options.pick(9_000, 9_000);
    let n = options.pick(1_000_000, 100_000);
    let mut rows = Vec::new();
    let (many, one) = alternate(
        options.rounds,
        || reactor_stream(idle, n),
        || reactor_stream(0, n),
    );
    rows.push(Row {
        name: format!("idle{}k_reactor", idle / 1000),
        reactor: many,
        raw: one,
        unit: "msg/s",
    });
    let (many, one) = alternate(
        options.rounds,
        || poll_stream(idle, n / 10),
        || poll_stream(0, n / 10),
    );
    rows.push(Row {
        name: format!("idle{}k_zmq_poll", idle / 1000),
        reactor: many,
        raw: one,
        unit: "msg/s",
    });
    report(
        "Many sockets",
        &format!(
            "One active 1 B stream over tcp. \"reactor\" is the rate with {idle} idle sockets registered, \
             \"raw\" the rate with none; the ratio shows what the idle sockets cost. The zmq_poll row \
             does the same with a plain zmq::poll loop over all the sockets."
        ),
        &rows,
    );
}
