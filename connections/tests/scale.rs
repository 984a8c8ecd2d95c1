//! Many sockets on one factory, and reactors on several threads sharing one
//! ZeroMQ context.

use std::sync::mpsc;
use std::time::Duration;

use tx0mq_connections::{
    Error, ZmqContext, ZmqEndpoint, ZmqFactory, ZmqPullConnection, ZmqPushConnection,
    DEFAULT_MAX_SOCKETS,
};
use tx0mq_reactor::{Reactor, ReactorThread};
use tx0mq_test_support::limits::raise_open_files;
use tx0mq_test_support::net::inproc;

fn quiet_reactor() -> Reactor {
    Reactor::builder()
        .handle_signals(false)
        .build()
        .expect("reactor")
}

/// Opens PULL connections bound to inproc endpoints until one fails.
fn fill(factory: &ZmqFactory, prefix: &str, most: usize) -> (Vec<ZmqPullConnection>, Error) {
    let mut open = Vec::new();
    loop {
        let endpoint = ZmqEndpoint::bind(format!("inproc://{prefix}-{}", open.len()));
        match ZmqPullConnection::new(factory, endpoint) {
            Ok(pull) => open.push(pull),
            Err(e) => return (open, e),
        }
        assert!(open.len() <= most, "no limit after {most} connections");
    }
}

#[test]
fn a_factory_with_a_raised_limit_holds_5000_connections_and_names_the_limit_at_5001() {
    let files = raise_open_files(12_000);
    assert!(
        files >= 5_500,
        "the open-file limit is {files}: too low for 5,000 sockets"
    );
    let reactor = quiet_reactor();
    let context = ZmqContext::builder()
        .max_sockets(5_000)
        .io_threads(2)
        .build()
        .unwrap();
    let factory = ZmqFactory::with_context(&reactor, context);
    let (open, err) = fill(&factory, &inproc("many"), 5_000);
    assert_eq!(open.len(), 5_000);
    assert_eq!(factory.connection_count(), 5_000);
    assert!(
        matches!(&err, Error::SocketLimit { kind, .. } if kind == "PULL"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains("maximum of 5000 sockets"), "{message}");
    assert!(
        message.contains("max_sockets"),
        "says how to raise it: {message}"
    );
    assert_eq!(factory.context().unwrap().io_threads().unwrap(), 2);

    // Nothing was left half-made: one closed connection makes room for one,
    // once libzmq has finished closing it (after its linger).
    open[0].shutdown();
    let endpoint = ZmqEndpoint::bind(inproc("after-one-closed"));
    let mut tries = 0;
    loop {
        match ZmqPullConnection::new(&factory, endpoint.clone()) {
            Ok(_) => break,
            Err(e) => {
                let message = e.to_string();
                assert!(message.contains("still lingering"), "{message}");
                tries += 1;
                assert!(tries < 500, "no room 5 s after a close: {message}");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
    factory.shutdown();
    assert_eq!(factory.connection_count(), 0);
}

#[test]
fn a_default_factory_stops_at_libzmqs_1023_with_the_way_to_raise_it() {
    let files = raise_open_files(4_096);
    assert!(
        files >= 1_300,
        "the open-file limit is {files}: too low for 1,023 sockets"
    );
    let reactor = quiet_reactor();
    let factory = ZmqFactory::new(&reactor).unwrap();
    let (open, err) = fill(&factory, &inproc("default"), 1_023);
    assert_eq!(open.len(), DEFAULT_MAX_SOCKETS as usize);
    let message = err.to_string();
    assert!(message.contains("maximum of 1023 sockets"), "{message}");
    assert!(
        message.contains("ZmqContext::builder().max_sockets(n)"),
        "{message}"
    );
    factory.shutdown();
}

#[test]
fn reactors_on_two_threads_sharing_a_context_talk_over_inproc() {
    let context = ZmqContext::new();
    let endpoint = inproc("between-reactors");
    let (got, received) = mpsc::channel();

    // The receiving reactor, on a thread of its own.
    let (worker_context, worker_endpoint) = (context.clone(), endpoint.clone());
    let worker = ReactorThread::spawn("puller", move || {
        let reactor = Reactor::builder().handle_signals(false).build()?;
        let factory = ZmqFactory::with_context(&reactor, worker_context);
        factory.register_for_shutdown();
        let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(worker_endpoint))?;
        pull.on_pull(move |_, message| {
            let _ = got.send(message.iter().map(|f| f.to_vec()).collect::<Vec<_>>());
        });
        Ok::<_, Error>(reactor)
    })
    .unwrap();

    // The sending reactor, on this thread.
    let reactor = quiet_reactor();
    let factory = ZmqFactory::with_context(&reactor, context);
    let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect(&endpoint)).unwrap();
    push.push(["across", "threads"]).unwrap();
    reactor.call_later(Duration::from_millis(300), |cx| cx.reactor.stop());
    reactor.run().unwrap();

    let message = received.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(message, [b"across".to_vec(), b"threads".to_vec()]);
    worker.stop_and_join().unwrap();
    factory.shutdown();
}

#[test]
fn a_zmq_crate_context_serves_a_factory_and_a_plain_socket() {
    let zmq_context = zmq::Context::new();
    let endpoint = inproc("zmq-crate");
    let reactor = quiet_reactor();
    let factory = ZmqFactory::with_context(&reactor, zmq_context.clone());
    let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(&endpoint)).unwrap();
    let got = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let sink = got.clone();
    pull.on_pull(move |cx, message| {
        sink.borrow_mut().push(message[0].to_vec());
        cx.reactor.stop()
    });
    let push = zmq_context.socket(zmq::PUSH).unwrap();
    push.connect(&endpoint).unwrap();
    push.send("plain", 0).unwrap();
    reactor.call_later(Duration::from_secs(10), |cx| cx.reactor.stop());
    reactor.run().unwrap();
    assert_eq!(*got.borrow(), [b"plain".to_vec()]);
    assert!(factory.context().unwrap().as_zmq_context().is_some());
}
