//! Devices in the reactor: the steerable proxy's commands and statistics,
//! the capture, the monitored queue's prefixes and its memory bound under a
//! slow side, TERMINATE, the thread device, and a pyzmq client reading our
//! STATISTICS.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tx0mq_connections::{
    Device, DeviceType, ProxyStatistics, ThreadDevice, ZmqConnection, ZmqEndpoint, ZmqFactory,
    ZmqOptions, ZmqSocket,
};
use tx0mq_reactor::Reactor;
use tx0mq_test_support::net::{free_port, inproc};
use tx0mq_test_support::python_or_skip;
use tx0mq_test_support::reactor::{iterate_until_cond, settle};

/// How long a Python peer's step may take on a loaded machine.
const STEP: Duration = Duration::from_secs(30);

fn reactor() -> (Reactor, ZmqFactory) {
    let reactor = tx0mq_test_support::reactor::reactor(());
    let factory = ZmqFactory::new(&reactor).expect("a factory");
    (reactor, factory)
}

fn bound(factory: &ZmqFactory, kind: zmq::SocketType, address: &str) -> ZmqConnection {
    ZmqConnection::new(factory, kind, ZmqEndpoint::bind(address)).expect("bind")
}

/// A blocking peer socket of the factory's context, connected to `address`.
fn peer(factory: &ZmqFactory, kind: zmq::SocketType, address: &str) -> ZmqSocket {
    peer_with_hwm(factory, kind, address, 1000)
}

/// [`peer`] with a high-water mark (set before connecting: libzmq's low
/// water mark is fixed when the pipe is made).
fn peer_with_hwm(
    factory: &ZmqFactory,
    kind: zmq::SocketType,
    address: &str,
    hwm: i32,
) -> ZmqSocket {
    let socket = factory
        .context()
        .expect("the context")
        .socket(kind)
        .expect("a peer socket");
    socket.set_linger(0).expect("linger");
    socket.set_sndhwm(hwm).expect("sndhwm");
    socket.set_rcvhwm(hwm).expect("rcvhwm");
    socket.connect(address).expect("connect the peer");
    socket
}

/// Every message waiting on `socket`, without blocking.
fn drain(socket: &ZmqSocket, into: &mut Vec<Vec<Vec<u8>>>) {
    while let Ok(message) = socket.recv_multipart(zmq::DONTWAIT) {
        into.push(message);
    }
}

/// Waits for a whole reply on `socket` while the reactor runs.
fn reply(reactor: &Reactor, socket: &ZmqSocket, what: &str) -> Vec<Vec<u8>> {
    let got = RefCell::new(None);
    iterate_until_cond(reactor, what, || {
        if let Ok(message) = socket.recv_multipart(zmq::DONTWAIT) {
            *got.borrow_mut() = Some(message);
        }
        got.borrow().is_some()
    });
    got.into_inner().unwrap_or_default()
}

#[test]
fn a_steerable_proxy_paused_then_resumed_loses_nothing_and_its_statistics_match() {
    let (reactor, factory) = reactor();
    let (front, back, ctl) = (inproc("st-front"), inproc("st-back"), inproc("st-ctl"));
    let frontend = bound(&factory, zmq::PULL, &front);
    let backend = bound(&factory, zmq::PUSH, &back);
    let control = bound(&factory, zmq::PAIR, &ctl);
    let device = Device::builder(&frontend, &backend)
        .control(&control)
        .start()
        .expect("start the device");
    let producer = peer(&factory, zmq::PUSH, &front);
    let consumer = peer(&factory, zmq::PULL, &back);
    let commands = peer(&factory, zmq::PAIR, &ctl);

    commands.send("PAUSE", 0).expect("send PAUSE");
    iterate_until_cond(&reactor, "the device to pause", || device.is_paused());
    const N: usize = 500;
    let mut bytes = 0u64;
    for i in 0..N {
        let body = format!("message {i}");
        bytes += 2 + body.len() as u64;
        producer
            .send_multipart([&b"m:"[..], body.as_bytes()], 0)
            .expect("send to the frontend");
    }
    // Paused: nothing is forwarded, however long we wait.
    let mut got = Vec::new();
    let until = Instant::now() + Duration::from_millis(300);
    while Instant::now() < until {
        reactor.iterate(Duration::from_millis(10)).expect("iterate");
        drain(&consumer, &mut got);
    }
    assert!(
        got.is_empty(),
        "a paused device forwarded {} messages",
        got.len()
    );
    assert_eq!(device.statistics(), ProxyStatistics::default());

    commands.send("RESUME", 0).expect("send RESUME");
    iterate_until_cond(&reactor, "every message after RESUME", || {
        drain(&consumer, &mut got);
        got.len() >= N
    });
    settle(&reactor);
    drain(&consumer, &mut got);
    assert_eq!(got.len(), N, "nothing lost, nothing doubled");
    for (i, message) in got.iter().enumerate() {
        assert_eq!(
            message,
            &[b"m:".to_vec(), format!("message {i}").into_bytes()]
        );
    }

    commands.send("STATISTICS", 0).expect("send STATISTICS");
    let frames = reply(&reactor, &commands, "the STATISTICS reply");
    assert_eq!(frames.len(), 8);
    let stats = ProxyStatistics::from_frames(&frames).expect("libzmq's format");
    assert_eq!(stats, device.statistics());
    assert_eq!(stats.frontend.messages_in, N as u64);
    assert_eq!(stats.frontend.bytes_in, bytes);
    assert_eq!(stats.backend.messages_out, N as u64);
    assert_eq!(stats.backend.bytes_out, bytes);
    assert_eq!(
        (stats.frontend.messages_out, stats.backend.messages_in),
        (0, 0)
    );
}

#[test]
fn a_capture_sees_every_message_both_ways() {
    let (reactor, factory) = reactor();
    let (front, back, cap) = (inproc("cap-front"), inproc("cap-back"), inproc("cap-cap"));
    let frontend = bound(&factory, zmq::ROUTER, &front);
    let backend = bound(&factory, zmq::DEALER, &back);
    let capture = bound(&factory, zmq::PUSH, &cap);
    let device = Device::builder(&frontend, &backend)
        .capture(&capture)
        .start()
        .expect("start the device");
    let client = peer(&factory, zmq::DEALER, &front);
    let worker = peer(&factory, zmq::DEALER, &back);
    let captured = peer(&factory, zmq::PULL, &cap);

    const N: usize = 50;
    for i in 0..N {
        client
            .send(format!("request {i}").as_str(), 0)
            .expect("request");
    }
    let (mut replies, mut seen) = (Vec::new(), Vec::new());
    iterate_until_cond(&reactor, "every reply and every capture", || {
        // The worker echoes each request, envelope and all.
        while let Ok(request) = worker.recv_multipart(zmq::DONTWAIT) {
            worker.send_multipart(request, 0).expect("echo");
        }
        drain(&client, &mut replies);
        drain(&captured, &mut seen);
        replies.len() >= N && seen.len() >= 2 * N
    });
    settle(&reactor);
    drain(&captured, &mut seen);
    assert_eq!(seen.len(), 2 * N, "one copy per forwarded message");
    for i in 0..N {
        let body = format!("request {i}").into_bytes();
        let copies = seen.iter().filter(|m| m.len() == 2 && m[1] == body).count();
        assert_eq!(
            copies, 2,
            "the request and its reply, whole, with the routing id"
        );
    }
    let stats = device.statistics();
    assert_eq!(stats.frontend.messages_in, N as u64);
    assert_eq!(stats.backend.messages_in, N as u64);
    assert_eq!(stats.frontend.messages_out, N as u64);
}

#[test]
fn a_monitored_queue_with_a_slow_side_stays_within_its_bound_and_loses_nothing() {
    let (reactor, factory) = reactor();
    let (front, back, mon) = (inproc("mq-front"), inproc("mq-back"), inproc("mq-mon"));
    let small = ZmqOptions::new().high_water_mark(10);
    let frontend =
        ZmqConnection::with_options(&factory, zmq::PULL, ZmqEndpoint::bind(&front), &small)
            .expect("frontend");
    let backend =
        ZmqConnection::with_options(&factory, zmq::PUSH, ZmqEndpoint::bind(&back), &small)
            .expect("backend");
    let monitor = bound(&factory, zmq::PUB, &mon);
    let device =
        Device::monitored_queue(&frontend, &backend, &monitor, b"in", b"out").expect("start");
    let watcher = peer(&factory, zmq::SUB, &mon);
    watcher.set_subscribe(b"").expect("subscribe");
    let producer = peer_with_hwm(&factory, zmq::PUSH, &front, 10);
    let consumer = peer_with_hwm(&factory, zmq::PULL, &back, 10);
    settle(&reactor);

    // The consumer reads nothing for a while: the producer runs ahead until
    // every queue on the way is full, and the device must not take up the
    // difference.
    const N: usize = 5_000;
    let body = vec![b'x'; 1024];
    let mut sent = 0;
    let mut most_queued = 0;
    let mut watched = Vec::new();
    let until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < until {
        while sent < N
            && producer
                .send_multipart([format!("{sent}").as_bytes(), &body[..]], zmq::DONTWAIT)
                .is_ok()
        {
            sent += 1;
        }
        reactor.iterate(Duration::from_millis(5)).expect("iterate");
        most_queued = most_queued.max(backend.outbox_len());
        drain(&watcher, &mut watched);
    }
    assert!(sent < N, "the producer was never held back ({sent} sent)");
    assert!(
        most_queued <= 1,
        "the device queued {most_queued} messages for its slow side"
    );
    assert!(
        device.backpressure_pauses() > 0,
        "{:?} {} sent {sent} outbox {} {:?}",
        device.statistics(),
        frontend.is_paused(),
        backend.outbox_len(),
        frontend.stats()
    );
    assert!(frontend.is_paused(), "the fast side stops reading");

    // The consumer catches up: every message arrives, in order.
    let mut got = Vec::new();
    iterate_until_cond(&reactor, "every message through the slow side", || {
        while sent < N
            && producer
                .send_multipart([format!("{sent}").as_bytes(), &body[..]], zmq::DONTWAIT)
                .is_ok()
        {
            sent += 1;
        }
        drain(&consumer, &mut got);
        drain(&watcher, &mut watched);
        most_queued = most_queued.max(backend.outbox_len());
        got.len() >= N
    });
    assert_eq!(got.len(), N);
    for (i, message) in got.iter().enumerate() {
        assert_eq!(message[0], format!("{i}").into_bytes(), "in order");
    }
    assert!(most_queued <= 1, "the outbox held {most_queued} messages");
    // The monitor got copies with the in prefix (a PUB may drop some for
    // a slow subscriber; none has another prefix or loses its frames).
    assert!(!watched.is_empty(), "the monitor saw the traffic");
    for copy in &watched {
        assert_eq!(copy.len(), 3);
        assert_eq!(copy[0], b"in");
        assert_eq!(copy[2], body);
    }
}

#[test]
fn a_slow_capture_holds_the_device_back_and_misses_nothing() {
    let (reactor, factory) = reactor();
    let (front, back, cap) = (inproc("sc-front"), inproc("sc-back"), inproc("sc-cap"));
    let small = ZmqOptions::new().high_water_mark(5);
    let frontend = bound(&factory, zmq::PULL, &front);
    let backend = bound(&factory, zmq::PUSH, &back);
    let capture = ZmqConnection::with_options(&factory, zmq::PAIR, ZmqEndpoint::bind(&cap), &small)
        .expect("capture");
    let device = Device::builder(&frontend, &backend)
        .capture(&capture)
        .start()
        .expect("start");
    let producer = peer(&factory, zmq::PUSH, &front);
    let consumer = peer(&factory, zmq::PULL, &back);
    let captured = peer_with_hwm(&factory, zmq::PAIR, &cap, 5);
    settle(&reactor);

    const N: usize = 200;
    for i in 0..N {
        producer.send(format!("{i}").as_str(), 0).expect("send");
    }
    // The capture's reader does not read: the consumer gets only what the
    // capture's queues could take, and the capture's outbox holds one
    // message at most.
    let mut got = Vec::new();
    let mut most_queued = 0;
    let until = Instant::now() + Duration::from_millis(300);
    while Instant::now() < until {
        reactor.iterate(Duration::from_millis(5)).expect("iterate");
        most_queued = most_queued.max(capture.outbox_len());
        drain(&consumer, &mut got);
    }
    assert!(got.len() < N, "the device ran ahead of its capture");
    assert!(most_queued <= 1, "the capture's outbox held {most_queued}");
    assert!(device.backpressure_pauses() > 0);

    // The capture's reader catches up: both sides get everything, in order.
    let mut seen = Vec::new();

    iterate_until_cond(&reactor, "every message, forwarded and captured", || {
        drain(&consumer, &mut got);
        drain(&captured, &mut seen);
        most_queued = most_queued.max(capture.outbox_len());
        got.len() >= N && seen.len() >= N
    });
    let expected: Vec<Vec<Vec<u8>>> = (0..N).map(|i| vec![format!("{i}").into_bytes()]).collect();
    assert_eq!(got, expected);
    assert_eq!(seen, expected);
    assert!(most_queued <= 1);
}

#[test]
fn terminate_ends_the_device_and_a_rep_control_is_answered() {
    let (reactor, factory) = reactor();
    let (front, back, ctl) = (inproc("t-front"), inproc("t-back"), inproc("t-ctl"));
    let frontend = bound(&factory, zmq::PULL, &front);
    let backend = bound(&factory, zmq::PUSH, &back);
    let control = bound(&factory, zmq::REP, &ctl);
    let device = Device::builder(&frontend, &backend)
        .control(&control)
        .start()
        .expect("start");
    let ended = Rc::new(RefCell::new(false));
    let flag = ended.clone();
    device.on_terminate(move |_| *flag.borrow_mut() = true);
    let producer = peer(&factory, zmq::PUSH, &front);
    let consumer = peer(&factory, zmq::PULL, &back);
    let commands = peer(&factory, zmq::REQ, &ctl);

    producer.send("before", 0).expect("send");
    let mut got = Vec::new();
    iterate_until_cond(&reactor, "the first message", || {
        drain(&consumer, &mut got);
        !got.is_empty()
    });
    commands.send("NONSENSE", 0).expect("send");
    assert_eq!(
        reply(&reactor, &commands, "an unknown command's reply"),
        [b""]
    );
    commands.send("TERMINATE", 0).expect("send");
    assert_eq!(reply(&reactor, &commands, "TERMINATE's reply"), [b""]);
    iterate_until_cond(&reactor, "the on_terminate callback", || *ended.borrow());
    assert!(device.is_terminated());

    producer.send("after", 0).expect("send");
    let until = Instant::now() + Duration::from_millis(200);
    while Instant::now() < until {
        reactor.iterate(Duration::from_millis(10)).expect("iterate");
        drain(&consumer, &mut got);
    }
    assert_eq!(got, [vec![b"before".to_vec()]], "nothing after TERMINATE");
    assert_eq!(device.statistics().frontend.messages_in, 1);
}

#[test]
fn a_device_refuses_connections_nothing_can_flow_between() {
    let (_reactor, factory) = reactor();
    let push = bound(&factory, zmq::PUSH, &inproc("bad-push"));
    let pull = bound(&factory, zmq::PULL, &inproc("bad-pull"));
    let publisher = bound(&factory, zmq::PUB, &inproc("bad-pub"));
    let err = Device::proxy(&push, &publisher).expect_err("nothing flows between PUSH and PUB");
    assert!(err.to_string().contains("no message can flow"), "{err}");
    let sub = bound(&factory, zmq::SUB, &inproc("bad-sub"));
    let err = Device::builder(&pull, &push)
        .capture(&sub)
        .start()
        .expect_err("a SUB capture");
    assert!(err.to_string().contains("capture"), "{err}");
    assert!(ProxyStatistics::from_frames(&[[0u8; 8]; 7]).is_err());
    assert!(ProxyStatistics::from_frames(&[&b"short"[..]; 8]).is_err());
}

#[test]
fn a_thread_device_starts_and_stops_from_the_main_reactor() {
    let (reactor, factory) = reactor();
    let (front, back) = (inproc("td-front"), inproc("td-back"));
    let mut device = ThreadDevice::of_type(DeviceType::Streamer);
    device.bind_in(front.clone()).bind_out(back.clone());
    device.start(&factory).expect("start the thread device");
    assert!(device.is_running());
    assert!(device.start(&factory).is_err(), "it runs already");

    // The main reactor's connections talk to it over inproc.
    let push = ZmqConnection::new(&factory, zmq::PUSH, ZmqEndpoint::connect(&front)).expect("push");
    let pull = ZmqConnection::new(&factory, zmq::PULL, ZmqEndpoint::connect(&back)).expect("pull");
    let got = Rc::new(RefCell::new(Vec::new()));
    let sink = got.clone();
    pull.message_received(move |_, message| sink.borrow_mut().push(message[0].to_vec()));
    for i in 0..20 {
        push.send(format!("{i}")).expect("push");
    }
    iterate_until_cond(&reactor, "20 messages through the thread device", || {
        got.borrow().len() == 20
    });
    let stats = device.statistics().expect("its statistics");
    assert_eq!(stats.frontend.messages_in, 20);

    // Stopped from a callback of the main reactor.
    let device = Rc::new(RefCell::new(device));
    let stopping = device.clone();
    reactor.call_later(Duration::ZERO, move |_| stopping.borrow_mut().stop());
    iterate_until_cond(&reactor, "the thread device to stop", || {
        !device.borrow().is_running()
    });
    assert!(device.borrow().statistics().is_none());
    assert!(
        device.borrow_mut().stop().is_ok(),
        "stopping twice is harmless"
    );
}

#[test]
fn a_thread_device_ends_on_terminate() {
    let (reactor, factory) = reactor();
    let (front, back, ctl) = (inproc("tt-front"), inproc("tt-back"), inproc("tt-ctl"));
    let mut device = ThreadDevice::new(zmq::PULL, zmq::PUSH);
    device
        .bind_in(front)
        .bind_out(back)
        .control(zmq::PAIR, &[ZmqEndpoint::bind(&ctl)]);
    device.start(&factory).expect("start");
    let commands = peer(&factory, zmq::PAIR, &ctl);
    commands.send("TERMINATE", 0).expect("send TERMINATE");
    iterate_until_cond(&reactor, "the thread to end", || !device.is_running());
    assert!(device.stop().is_ok());
}

#[test]
fn interop_a_pyzmq_client_reads_our_statistics() {
    let python = python_or_skip!("interop_a_pyzmq_client_reads_our_statistics");
    let (front, back, ctl) = (free_port(), free_port(), free_port());
    let local = |port: u16| format!("tcp://127.0.0.1:{port}");
    let (_reactor, factory) = reactor();
    let mut device = ThreadDevice::of_type(DeviceType::Streamer);
    device
        .bind_in(local(front))
        .bind_out(local(back))
        .control(zmq::REP, &[ZmqEndpoint::bind(local(ctl))]);
    device.start(&factory).expect("start");
    let mut client = python.run_peer(
        "devices.py",
        &[
            "statistics",
            "--front",
            &local(front),
            "--back",
            &local(back),
            "--control",
            &local(ctl),
            "--count",
            "40",
        ],
    );
    client.expect_line("received 40", STEP);
    // Each message is b"part" and the decimal index: 40 * 4 + 10 + 30 * 2.
    let bytes = 40 * 4 + 10 + 30 * 2;
    client.expect_line(&format!("statistics 40 {bytes} 0 0 0 0 40 {bytes}"), STEP);
    client.expect_line("terminated", STEP);
    let until = Instant::now() + STEP;
    while device.is_running() {
        assert!(Instant::now() < until, "TERMINATE did not end the thread");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn an_echo_thread_device_answers_each_request_with_itself() {
    let (_reactor, factory) = reactor();
    let address = inproc("td-echo");
    let mut device = ThreadDevice::echo(zmq::REP);
    device.bind_in(address.clone());
    device.start(&factory).expect("start the echo device");
    let req = peer(&factory, zmq::REQ, &address);
    req.set_rcvtimeo(30_000).expect("rcvtimeo");
    for i in 0..10 {
        req.send(format!("ping {i}").as_str(), 0).expect("send");
        assert_eq!(
            req.recv_bytes(0).expect("its echo"),
            format!("ping {i}").into_bytes()
        );
    }
    let stats = device.statistics().expect("its statistics");
    // One socket as both sides: in on the frontend, out on the backend, as
    // zmq_proxy(socket, socket) counts them.
    assert_eq!(stats.frontend.messages_in, 10);
    assert_eq!(stats.backend.messages_out, 10);
    assert_eq!(stats.backend.messages_in, 0);
    device.stop().expect("stop");
}

#[test]
fn a_thread_device_applies_its_subscriptions_and_socket_options() {
    // pyzmq's heartbeat heart: a SUB frontend subscribed to everything, a
    // DEALER backend with an identity, forwarding a PUB's pings to a ROUTER.
    let (_reactor, factory) = reactor();
    let (pings, pongs) = (inproc("td-pings"), inproc("td-pongs"));
    let publisher = peer(&factory, zmq::PUB, "inproc://td-unused-pub");
    publisher.bind(&pings).expect("bind the PUB");
    let router = factory
        .context()
        .expect("the context")
        .socket(zmq::ROUTER)
        .expect("router");
    router.bind(&pongs).expect("bind the ROUTER");
    router.set_rcvtimeo(200).expect("rcvtimeo");

    let mut device = ThreadDevice::new(zmq::SUB, zmq::DEALER);
    device
        .connect_in(pings)
        .subscribe_in(b"")
        .connect_out(pongs)
        .options_out(&ZmqOptions::new().identity(b"heart-1"));
    device.start(&factory).expect("start the device");

    // The subscription reaches the PUB asynchronously: ping until one
    // arrives, within the step.
    let deadline = Instant::now() + STEP;
    let got = loop {
        publisher.send("ping", 0).expect("publish");
        if let Ok(frames) = router.recv_multipart(0) {
            break frames;
        }
        assert!(Instant::now() < deadline, "no ping through the device");
    };
    assert_eq!(got, vec![b"heart-1".to_vec(), b"ping".to_vec()]);
    device.stop().expect("stop");
}

#[test]
fn a_thread_device_refuses_a_subscription_on_a_socket_that_is_not_sub() {
    let (_reactor, factory) = reactor();
    let mut device = ThreadDevice::new(zmq::PULL, zmq::PUSH);
    device
        .bind_in(inproc("td-badsub-in"))
        .bind_out(inproc("td-badsub-out"))
        .subscribe_in(b"x");
    let error = device.start(&factory).expect_err("a PULL cannot subscribe");
    let text = error.to_string();
    assert!(
        text.contains("subscribe") && text.contains("PULL"),
        "{text}"
    );
    assert!(!device.is_running());
}
