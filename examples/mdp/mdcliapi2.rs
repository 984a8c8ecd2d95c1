//! The asynchronous Majordomo client API (the zguide's `mdcliapi2.py`): a
//! DEALER that sends requests without waiting and takes replies as they
//! come.
//!
//! The original's `recv()` polls for `timeout` and returns the next reply,
//! or logs `W: permanent error, abandoning request` and returns `None`.
//! Here [`MajorDomoClient::recv`] returns a Deferred that fires with the
//! next reply (at once if one has already arrived) or with `None` once
//! `timeout` went by without one, a `DelayedCall` the reply cancels.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::{Rc, Weak};
use std::time::Duration;

use tx0mq::connections::{Multipart, ZmqDealerConnection, ZmqEndpoint, ZmqFactory, ZmqOptions};
use tx0mq::{Deferred, DelayedCall, Reactor};

use super::{dump, frames, log, Message, C_CLIENT, REQUEST_TIMEOUT};

/// An asynchronous Majordomo client session with one broker.
pub struct MajorDomoClient<S: 'static = ()> {
    inner: Rc<RefCell<Inner<S>>>,
}

impl<S: 'static> Clone for MajorDomoClient<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<S: 'static> {
    reactor: Reactor<S>,
    verbose: bool,
    timeout: Duration,
    client: ZmqDealerConnection<S>,
    /// Replies no `recv` has taken yet.
    replies: VecDeque<Message>,
    /// The `recv` waiting for a reply, and its timeout.
    waiting: Option<(Deferred<Option<Message>>, DelayedCall)>,
}

impl<S: 'static> MajorDomoClient<S> {
    /// A session with the broker at `broker`, with a 2500 ms timeout.
    pub fn new(
        reactor: &Reactor<S>,
        factory: &ZmqFactory<S>,
        broker: &str,
        verbose: bool,
    ) -> Result<Self, tx0mq::connections::Error> {
        let options = ZmqOptions::new().linger(Duration::ZERO);
        let client =
            ZmqDealerConnection::with_options(factory, ZmqEndpoint::connect(broker), &options)?;
        if verbose {
            log(format_args!("I: connecting to broker at {broker}..."));
        }
        let inner = Rc::new(RefCell::new(Inner {
            reactor: reactor.clone(),
            verbose,
            timeout: REQUEST_TIMEOUT,
            client: client.clone(),
            replies: VecDeque::new(),
            waiting: None,
        }));
        let weak = Rc::downgrade(&inner);
        client.got_message(move |_, message| got_reply(&weak, message));
        Ok(Self { inner })
    }

    /// How long `recv` waits for a reply.
    pub fn set_timeout(&self, timeout: Duration) {
        self.inner.borrow_mut().timeout = timeout;
    }

    /// Sends `request` to `service`, framed `["", MDPC01, service, body...]`
    /// (the empty frame emulates REQ).
    pub fn send(&self, service: &[u8], request: Message) -> Result<(), tx0mq::connections::Error> {
        let mut frames = vec![Vec::new(), C_CLIENT.to_vec(), service.to_vec()];
        frames.extend(request);
        let inner = self.inner.borrow();
        if inner.verbose {
            log(format_args!(
                "I: send request to '{}' service: ",
                String::from_utf8_lossy(service)
            ));
            dump(&frames);
        }
        inner.client.send_msg(frames)
    }

    /// Sends every request of `requests` to `service`, as fast as the
    /// socket takes them, and fires with how many went out. The original's
    /// `send` blocks at the socket's high-water mark; here a pull producer
    /// on the DEALER sends a chunk whenever its outbox is empty, so the
    /// reactor never waits.
    pub fn send_all(
        &self,
        service: &[u8],
        requests: impl Iterator<Item = Message> + 'static,
    ) -> Deferred<u64> {
        let done = Deferred::new();
        let fire = done.clone();
        let me = self.clone();
        let service = service.to_vec();
        let mut requests = requests.peekable();
        let mut sent = 0u64;
        let client = self.inner.borrow().client.clone();
        let registered = client.produce_with(move |cx| {
            for _ in 0..100 {
                let Some(request) = requests.next() else {
                    cx.conn.unregister_producer();
                    let _ = fire.callback(sent);
                    return;
                };
                if let Err(e) = me.send(&service, request) {
                    cx.conn.unregister_producer();
                    let _ = fire.errback(tx0mq::Failure::new(e));
                    return;
                }
                sent += 1;
            }
            if requests.peek().is_none() {
                cx.conn.unregister_producer();
                let _ = fire.callback(sent);
            }
        });
        match registered {
            Ok(()) => done,
            Err(e) => tx0mq::reactor::fail(tx0mq::Failure::new(e)),
        }
    }

    /// The next reply's body, or `None` after `timeout` without one. One
    /// `recv` at a time: a second, while the first waits, gets `None` at once.
    pub fn recv(&self) -> Deferred<Option<Message>> {
        let mut inner = self.inner.borrow_mut();
        if let Some(reply) = inner.replies.pop_front() {
            return tx0mq::reactor::succeed(Some(reply));
        }
        if inner.waiting.is_some() {
            return tx0mq::reactor::succeed(None);
        }
        let deferred = Deferred::new();
        let weak = Rc::downgrade(&self.inner);
        let timer = inner.reactor.call_later(inner.timeout, move |_| {
            let Some(cell) = weak.upgrade() else { return };
            let waiting = cell.borrow_mut().waiting.take();
            if let Some((deferred, _)) = waiting {
                log("W: permanent error, abandoning request");
                let _ = deferred.callback(None);
            }
        });
        inner.waiting = Some((deferred.clone(), timer));
        deferred
    }

    /// Closes the session.
    pub fn destroy(&self) {
        self.inner.borrow().client.shutdown();
    }
}

/// A reply arrived: `["", "MDPC01", service, body...]`.
fn got_reply<S: 'static>(weak: &Weak<RefCell<Inner<S>>>, message: Multipart) {
    let Some(cell) = weak.upgrade() else { return };
    let waiting = {
        let mut inner = cell.borrow_mut();
        if inner.verbose {
            log("I: received reply:");
            dump(&message);
        }
        match &message[..] {
            [empty, header, _service, _, ..] if empty.is_empty() && header[..] == *C_CLIENT => {}
            _ => {
                log("E: dropped a reply that is not [\"\", MDPC01, service, body...]:");
                dump(&message);
                return;
            }
        }
        let reply = frames(&message[3..]);
        match inner.waiting.take() {
            Some(waiting) => Some((waiting, reply)),
            None => {
                inner.replies.push_back(reply);
                None
            }
        }
    };
    if let Some(((deferred, timer), reply)) = waiting {
        let _ = timer.cancel();
        let _ = deferred.callback(Some(reply));
    }
}
