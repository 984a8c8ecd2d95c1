//! Throughput: PUSH→PULL at 1 B, 100 B, 1 KiB and 64 KiB over tcp, ipc and
//! inproc, with (a) the receiver in the reactor and (b) the sender in the
//! reactor (through the outbox); and PUB→SUB with txZMQ's tag framing at
//! 100 B. Each is measured side by side with a plain rust-zmq loop doing the
//! same work, alternating, and reported as medians and their ratio.
//!
//!     cargo bench --bench throughput [-- --quick] [-- --filter tcp]
//!
//! Timing runs on the receiving side, from the first message received to the
//! last, so connection set-up is not counted. The raw loops reuse one
//! `zmq::Message` (libzmq's best case).
//!
//! Each side is set up as a separate process would be: over tcp and ipc it
//! has its own context, so its own I/O thread, and the sending side (its
//! thread and I/O thread) runs pinned to CPU 0, the receiving side to CPU 1,
//! reactor and raw alike. Over inproc both sides share one context (inproc
//! needs that) and there is no I/O thread.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use tx0mq::connections::{
    ZmqEndpoint, ZmqFactory, ZmqOptions, ZmqPullConnection, ZmqPushConnection, ZmqSubConnection,
};
use tx0mq::Reactor;

mod common;
use common::{alternate, ipc_endpoint, pin_to_cpu, rate, report, Options, Row};

/// The CPU the sending side runs on, and the receiving side's.
const SENDER_CPU: usize = 0;
const RECEIVER_CPU: usize = 1;

#[derive(Clone, Copy, PartialEq)]
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

    /// The context for a side's sockets: its own over tcp and ipc, as a
    /// separate process would have (so its I/O thread starts on the side's
    /// CPU with its first socket); `shared` over inproc, which only works
    /// within one context.
    fn side_context(self, shared: &zmq::Context) -> zmq::Context {
        match self {
            Transport::Inproc => shared.clone(),
            Transport::Tcp | Transport::Ipc => zmq::Context::new(),
        }
    }

    fn bind_address(self, tag: &str) -> String {
        match self {
            Transport::Tcp => "tcp://127.0.0.1:*".to_string(),
            Transport::Ipc => ipc_endpoint(tag),
            Transport::Inproc => format!("inproc://bench-{tag}"),
        }
    }
}

fn size_name(size: usize) -> String {
    match size {
        s if s >= 1024 && s % 1024 == 0 => format!("{}KiB", s / 1024),
        s => format!("{s}B"),
    }
}

/// Counts `n` messages on a raw PULL; returns the time from the first to the last.
fn raw_receive(socket: &zmq::Socket, n: usize) -> Duration {
    let mut msg = zmq::Message::new();
    socket.recv(&mut msg, 0).expect("recv");
    let started = Instant::now();
    for _ in 1..n {
        socket.recv(&mut msg, 0).expect("recv");
    }
    started.elapsed()
}

fn raw_send(socket: &zmq::Socket, payload: &[u8], n: usize) {
    for _ in 0..n {
        socket.send(payload, 0).expect("send");
    }
}

/// A raw PUSH on its own thread, pinned to the sender's CPU, sending `n`
/// messages of `size` bytes to `endpoint`. The socket lives until the
/// thread is joined: libzmq 4.3.4 can lose messages still in flight on
/// ipc when the sending socket closes right after its last send.
fn spawn_raw_sender(
    transport: Transport,
    shared: &zmq::Context,
    endpoint: String,
    size: usize,
    n: usize,
) -> thread::JoinHandle<(zmq::Context, zmq::Socket)> {
    let shared = shared.clone();
    thread::spawn(move || {
        pin_to_cpu(SENDER_CPU);
        let context = transport.side_context(&shared);
        let push = context.socket(zmq::PUSH).expect("socket");
        push.connect(&endpoint).expect("connect");
        raw_send(&push, &vec![7u8; size], n);
        (context, push)
    })
}

/// Both ends raw: the ceiling.
fn raw_pushpull(transport: Transport, size: usize, n: usize, tag: &str) -> f64 {
    pin_to_cpu(RECEIVER_CPU);
    let context = zmq::Context::new();
    let pull = context.socket(zmq::PULL).expect("socket");
    pull.bind(&transport.bind_address(tag)).expect("bind");
    let endpoint = pull.get_last_endpoint().expect("endpoint").expect("utf8");
    let sender = spawn_raw_sender(transport, &context, endpoint, size, n);
    let elapsed = raw_receive(&pull, n);
    drop(sender.join().expect("sender"));
    rate(n - 1, elapsed)
}

/// (a) The receiver is a ZmqPullConnection in the reactor; the sender is raw.
fn reactor_receives(transport: Transport, size: usize, n: usize, tag: &str) -> f64 {
    pin_to_cpu(RECEIVER_CPU);
    struct Count {
        seen: usize,
        first: Option<Instant>,
        elapsed: Duration,
    }
    let reactor = Reactor::builder()
        .state(Count {
            seen: 0,
            first: None,
            elapsed: Duration::ZERO,
        })
        .handle_signals(false)
        .build()
        .expect("reactor");
    let factory = ZmqFactory::new(&reactor).expect("factory");
    let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(transport.bind_address(tag)))
        .expect("pull");
    let endpoint = pull.last_endpoint().expect("endpoint");
    pull.on_pull(move |cx, _message| {
        let count = &mut *cx.state;
        count.seen += 1;
        if count.seen == 1 {
            count.first = Some(Instant::now());
        }
        if count.seen == n {
            count.elapsed = count.first.map(|t| t.elapsed()).unwrap_or_default();
            let _ = cx.reactor.stop();
        }
    });
    let shared = factory.context().expect("context");
    let sender = spawn_raw_sender(transport, &shared, endpoint, size, n);
    reactor.run().expect("run");
    drop(sender.join().expect("sender"));
    let elapsed = reactor.access_state(|c| c.elapsed).expect("state");
    factory.shutdown();
    rate(n - 1, elapsed)
}

/// (b) The sender is a ZmqPushConnection in the reactor, driven as a pull
/// producer (it sends while libzmq takes messages, and is not called while
/// the outbox waits for POLLOUT); the receiver is raw.
fn reactor_sends(transport: Transport, size: usize, n: usize, tag: &str) -> f64 {
    pin_to_cpu(SENDER_CPU);
    let reactor = Reactor::builder()
        .state(0usize)
        .handle_signals(false)
        .build()
        .expect("reactor");
    let factory = ZmqFactory::new(&reactor).expect("factory");
    let options = ZmqOptions::new().outbox_limit(n);
    let push = ZmqPushConnection::with_options(
        &factory,
        ZmqEndpoint::bind(transport.bind_address(tag)),
        &options,
    )
    .expect("push");
    let endpoint = push.last_endpoint().expect("endpoint");
    let shared = factory.context().expect("context");
    let (done_tx, done_rx) = mpsc::channel();
    let handle = reactor.thread_handle();
    let receiver = thread::spawn(move || {
        pin_to_cpu(RECEIVER_CPU);
        let context = transport.side_context(&shared);
        let pull = context.socket(zmq::PULL).expect("socket");
        pull.connect(&endpoint).expect("connect");
        let elapsed = raw_receive(&pull, n);
        let _ = done_tx.send(elapsed);
        let _ = handle.call_from_thread(|cx| cx.reactor.stop());
    });
    let payload = vec![7u8; size];
    // A pull producer: asked for more on every pass while the outbox is
    // empty, paused (not called) while libzmq pushes back.
    push.produce_with(move |cx| {
        for _ in 0..4096 {
            if *cx.state == n {
                cx.conn.unregister_producer();
                return;
            }
            if cx.conn.push(&payload[..]).is_err() {
                return;
            }
            *cx.state += 1;
            if cx.conn.outbox_len() > 0 {
                return;
            }
        }
    })
    .expect("producer");
    reactor.run().expect("run");
    receiver.join().expect("receiver");
    factory.shutdown();
    rate(n - 1, done_rx.recv().expect("elapsed"))
}

/// PUB→SUB, 100 B, txZMQ framing: a raw XPUB publisher waits for the
/// subscription, then sends `tag \0 message` frames.
fn pubsub(in_reactor: bool, n: usize) -> f64 {
    let tag = b"bench";
    let mut frame = tag.to_vec();
    frame.push(0);
    frame.extend_from_slice(&[7u8; 100]);
    let (endpoint_tx, endpoint_rx) = mpsc::channel();
    let publisher = thread::spawn(move || {
        pin_to_cpu(SENDER_CPU);
        let context = zmq::Context::new();
        let xpub = context.socket(zmq::XPUB).expect("socket");
        xpub.set_sndhwm(0).expect("hwm");
        xpub.bind("tcp://127.0.0.1:*").expect("bind");
        let endpoint = xpub.get_last_endpoint().expect("endpoint").expect("utf8");
        endpoint_tx.send(endpoint).expect("endpoint");
        let mut subscription = zmq::Message::new();
        xpub.recv(&mut subscription, 0).expect("subscription");
        for _ in 0..n {
            xpub.send(&frame[..], 0).expect("send");
        }
        (context, xpub)
    });
    let endpoint = endpoint_rx.recv().expect("endpoint");
    pin_to_cpu(RECEIVER_CPU);
    let elapsed = if in_reactor {
        let reactor = Reactor::builder()
            .state((0usize, None::<Instant>, Duration::ZERO))
            .handle_signals(false)
            .build()
            .expect("reactor");
        let factory = ZmqFactory::new(&reactor).expect("factory");
        let sub = ZmqSubConnection::with_options(
            &factory,
            ZmqEndpoint::connect(endpoint),
            &ZmqOptions::new().high_water_mark(0),
        )
        .expect("sub");
        sub.subscribe(tag).expect("subscribe");
        sub.got_message(move |cx, _message, _tag| {
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
        reactor.run().expect("run");
        let elapsed = reactor.access_state(|s| s.2).expect("state");
        factory.shutdown();
        elapsed
    } else {
        let context = zmq::Context::new();
        let sub = context.socket(zmq::SUB).expect("socket");
        sub.set_rcvhwm(0).expect("hwm");
        sub.connect(&endpoint).expect("connect");
        sub.set_subscribe(tag).expect("subscribe");
        // The raw loop also splits off the tag, as txZMQ's gotMessage does.
        let mut msg = zmq::Message::new();
        sub.recv(&mut msg, 0).expect("recv");
        let started = Instant::now();
        let mut bytes = 0usize;
        for _ in 1..n {
            sub.recv(&mut msg, 0).expect("recv");
            if let Some(at) = msg.iter().position(|&b| b == 0) {
                bytes += msg.len() - at;
            }
        }
        std::hint::black_box(bytes);
        started.elapsed()
    };
    drop(publisher.join().expect("publisher"));
    rate(n - 1, elapsed)
}

fn main() {
    let options = Options::from_args();
    let sizes = [1usize, 100, 1024, 65536];
    let transports = [Transport::Tcp, Transport::Ipc, Transport::Inproc];
    let mut rows = Vec::new();
    let mut chart: Vec<(String, usize, f64, f64)> = Vec::new();
    let mut run = 0usize;
    for transport in transports {
        for size in sizes {
            let n = match size {
                1 | 100 => options.pick(1_000_000, 100_000),
                1024 => options.pick(500_000, 50_000),
                _ => options.pick(20_000, 2_000),
            };
            let base = format!("pushpull_{}_{}", transport.name(), size_name(size));
            let recv_name = format!("{base}_recv");
            let send_name = format!("{base}_send");
            if options.wants(&recv_name) {
                let (ours, raw) = alternate(
                    options.rounds,
                    || {
                        run += 1;
                        reactor_receives(transport, size, n, &format!("r{run}"))
                    },
                    || raw_pushpull(transport, size, n, "raw"),
                );
                eprintln!("{recv_name}: reactor {ours:.0} raw {raw:.0} msg/s");
                chart.push((transport.name().to_string(), size, ours, raw));
                rows.push(Row {
                    name: recv_name,
                    reactor: ours,
                    raw,
                    unit: "msg/s",
                });
            }
            if options.wants(&send_name) {
                let mut run_b = 0usize;
                let (ours, raw) = alternate(
                    options.rounds,
                    || {
                        run_b += 1;
                        reactor_sends(transport, size, n, &format!("s{run_b}"))
                    },
                    || raw_pushpull(transport, size, n, "raw2"),
                );
                eprintln!("{send_name}: reactor {ours:.0} raw {raw:.0} msg/s");
                rows.push(Row {
                    name: send_name,
                    reactor: ours,
                    raw,
                    unit: "msg/s",
                });
            }
        }
    }
    if options.wants("pubsub_tcp_100B") {
        let n = options.pick(1_000_000, 100_000);
        let (ours, raw) = alternate(options.rounds, || pubsub(true, n), || pubsub(false, n));
        rows.push(Row {
            name: "pubsub_tcp_100B_recv".into(),
            reactor: ours,
            raw,
            unit: "msg/s",
        });
    }
    report(
        "Throughput",
        "Messages per second (higher is better); ratio = reactor / raw.",
        &rows,
    );
    if !chart.is_empty() {
        match chart::draw(&chart, "target/throughput.svg") {
            Ok(()) => println!("\nchart: target/throughput.svg"),
            Err(e) => eprintln!("chart not drawn: {e}"),
        }
    }
}

mod chart {
    use plotters::prelude::*;

    /// Throughput against message size, reactor and raw, one line per transport.
    pub fn draw(
        points: &[(String, usize, f64, f64)],
        path: &str,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::new(path, (900, 560)).into_drawing_area();
        root.fill(&WHITE)?;
        let max = points.iter().map(|p| p.2.max(p.3)).fold(1.0, f64::max) * 1.2;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "PUSH→PULL receive path: messages/s by message size",
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
            chart
                .draw_series(LineSeries::new(
                    series.iter().map(|p| (p.1 as f64, p.3)),
                    color.stroke_width(1),
                ))?
                .label(format!("{transport} raw"))
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
