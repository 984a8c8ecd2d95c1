//! Helpers for the connections crate's integration tests that speak ZeroMQ:
//! a raw-socket peer loop, frame comparisons and a request's outcome.
//! Reactors, endpoints, deadlines and log capture come from
//! `tx0mq-test-support`.
//!
//! Every wait here has a deadline and fails the test with a message naming
//! what it was waiting for; nothing sleeps to synchronise.

#![allow(dead_code)] // each test binary uses a different subset

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tx0mq_connections::{
    ConnectionLost, DealerProtocol, Frame, Multipart, ZmqCtx, ZmqDealerConnection,
};
use tx0mq_reactor::{Deferred, Failure, Reactor};
use tx0mq_test_support::reactor::DEADLINE;

/// Receives one message on a raw (blocking-API) socket without blocking the
/// reactor: the reactor and the socket take turns until a message is there.
pub fn raw_recv<S: 'static>(
    reactor: &Reactor<S>,
    socket: &zmq::Socket,
    what: &str,
) -> Vec<Vec<u8>> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        reactor
            .iterate(Duration::ZERO)
            .expect("iterate the reactor");
        match socket.recv_multipart(zmq::DONTWAIT) {
            Ok(message) => return message,
            Err(zmq::Error::EAGAIN) => {}
            Err(e) => panic!("raw socket failed while waiting for {what}: {e}"),
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {DEADLINE:?} waiting for {what}"
        );
        socket.poll(zmq::POLLIN, 5).expect("poll the raw socket");
    }
}

/// Sends a multipart message on a raw socket (it must not block: the peer is
/// connected or the socket queues).
pub fn raw_send(socket: &zmq::Socket, frames: &[&[u8]]) {
    socket
        .send_multipart(frames.iter().copied(), zmq::DONTWAIT)
        .expect("raw send");
}

/// The frames of a message as byte vectors, for comparisons.
pub fn frames(message: &[Frame]) -> Vec<Vec<u8>> {
    message.iter().map(|f| f.to_vec()).collect()
}

/// `[b"a", b"b"]` as owned frames, for comparisons.
pub fn bytes(parts: &[&[u8]]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.to_vec()).collect()
}

/// What a request's Deferred fired with (every time it fired: a Deferred
/// must fire once, and a test can check that).
#[derive(Clone, Default)]
pub struct Outcome(Rc<RefCell<Vec<Reply>>>);

/// A reply's frames, or why there is none.
pub type Reply = Result<Vec<Vec<u8>>, Failure>;

impl Outcome {
    /// Records the outcome of `deferred`, ending its chain (so an expected
    /// failure is not logged as unhandled).
    pub fn of(deferred: &Deferred<Multipart>) -> Self {
        let outcome = Outcome::default();
        let out = outcome.0.clone();
        deferred.add_both(move |result| {
            out.borrow_mut().push(result.map(|m| frames(&m)));
            Ok(Multipart::new())
        });
        outcome
    }

    /// Whether the Deferred fired.
    pub fn fired(&self) -> bool {
        !self.0.borrow().is_empty()
    }

    /// How many times it fired.
    pub fn times(&self) -> usize {
        self.0.borrow().len()
    }

    /// The reply it fired with; fails the test if it failed or has not fired.
    pub fn value(&self) -> Vec<Vec<u8>> {
        match self.0.borrow().first() {
            Some(Ok(value)) => value.clone(),
            Some(Err(failure)) => panic!("the request failed: {failure}"),
            None => panic!("the request's Deferred has not fired"),
        }
    }

    /// The failure it fired with; fails the test if it succeeded or has not fired.
    pub fn failure(&self) -> Failure {
        match self.0.borrow().first() {
            Some(Err(failure)) => failure.clone(),
            Some(Ok(value)) => panic!("the request succeeded with {value:?}, expected a failure"),
            None => panic!("the request's Deferred has not fired"),
        }
    }
}

/// Allocations on this thread per message that a PULL connection receives
/// through the callback `listen` sets on it, which counts each whole
/// message in the reactor's state. Another thread sends `count + 100`
/// copies of `message` (its allocations are not this thread's); the first
/// 100 warm up the buffers and the reactor's first-use allocations and are
/// not counted. The test binary needs
/// `tx0mq_test_support::alloc::Counting` as its global allocator.
pub fn allocations_per_message(
    message: &[&[u8]],
    count: usize,
    listen: impl FnOnce(&tx0mq_connections::ZmqPullConnection<usize>),
) -> f64 {
    use tx0mq_connections::{ZmqEndpoint, ZmqFactory, ZmqPullConnection};
    use tx0mq_test_support::alloc::allocations;
    use tx0mq_test_support::reactor::{iterate_until_cond, reactor};

    let reactor: Reactor<usize> = reactor(0);
    let factory = ZmqFactory::new(&reactor).expect("factory");
    let address = tx0mq_test_support::net::inproc("alloc");
    let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(&address)).expect("pull");
    listen(&pull);
    let context = factory.context().expect("context");
    let message: Vec<Vec<u8>> = message.iter().map(|frame| frame.to_vec()).collect();
    let sender = std::thread::spawn(move || {
        let push = context.socket(zmq::PUSH).expect("push");
        push.set_sndhwm(0).expect("hwm");
        push.connect(&address).expect("connect");
        for _ in 0..count + 100 {
            push.send_multipart(message.clone(), 0).expect("send");
        }
        push
    });
    iterate_until_cond(&reactor, "warm-up", || {
        reactor.access_state(|n| *n).unwrap_or(0) >= 100
    });
    let _push = sender.join().expect("the sender thread");
    let before = allocations();
    let start = reactor.access_state(|n| *n).expect("state");
    iterate_until_cond(&reactor, "every message", || {
        reactor.access_state(|n| *n).unwrap_or(0) >= count + 100
    });
    let received = reactor.access_state(|n| *n).expect("state") - start;
    let made = allocations() - before;
    factory.shutdown();
    made as f64 / received as f64
}

/// What [`LostRecorder`] records: `connection_lost` and the messages.
#[derive(Default)]
pub struct Lost {
    pub lost: Vec<ConnectionLost>,
    pub got: Vec<Vec<Vec<u8>>>,
}

/// A DEALER protocol that records `connection_lost` and messages.
pub struct LostRecorder;

impl DealerProtocol<Lost> for LostRecorder {
    fn got_message(
        &mut self,
        cx: &mut ZmqCtx<'_, Lost, ZmqDealerConnection<Lost>>,
        parts: Multipart,
    ) {
        cx.state.got.push(frames(&parts));
    }
    fn connection_lost(
        &mut self,
        cx: &mut ZmqCtx<'_, Lost, ZmqDealerConnection<Lost>>,
        lost: &ConnectionLost,
    ) {
        cx.state.lost.push(lost.clone());
    }
}
