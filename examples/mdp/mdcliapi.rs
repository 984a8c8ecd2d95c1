//! The Majordomo client API (the zguide's `mdcliapi.py`): one request at a
//! time, answered "by hook or crook".
//!
//! The original's `send(service, request)` blocks: it sends, polls the
//! socket for `timeout`, and on silence closes the socket, opens a new one
//! and sends again, `retries` times in all, returning the reply or `None`.
//! Here [`MajorDomoClient::send`] returns at once with a Deferred that fires
//! with `Some(reply)` or, once every try went unanswered, `None`; the poll
//! is a `DelayedCall` that the reply cancels. The socket is a DEALER
//! sending the empty delimiter a REQ socket would (the broker sees the
//! same frames), and is replaced by a fresh one on each retry, as the
//! original replaces its REQ socket, so a late reply to an abandoned try can
//! never be taken for the answer to the next.

use std::cell::RefCell;
use std::rc::{Rc, Weak};
use std::time::Duration;

use tx0mq::connections::{Multipart, ZmqDealerConnection, ZmqEndpoint, ZmqFactory, ZmqOptions};
use tx0mq::{Deferred, DelayedCall, Failure, Reactor};

use super::{dump, frames, log, Message, C_CLIENT, REQUEST_RETRIES, REQUEST_TIMEOUT};

/// A Majordomo client session with one broker.
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
    factory: ZmqFactory<S>,
    broker: String,
    verbose: bool,
    timeout: Duration,
    retries: u32,
    client: Option<ZmqDealerConnection<S>>,
    pending: Option<Pending>,
}

/// The request being answered.
struct Pending {
    service: Vec<u8>,
    /// The frames sent, delimiter and header included, for resending.
    request: Message,
    /// Tries left after the current one.
    retries_left: u32,
    timer: DelayedCall,
    reply: Deferred<Option<Message>>,
}

/// Why a request could not be sent.
#[derive(Debug)]
pub struct Busy;

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a request is already waiting for its reply")
    }
}

impl std::error::Error for Busy {}

impl<S: 'static> MajorDomoClient<S> {
    /// A session with the broker at `broker` (`MajorDomoClient(broker,
    /// verbose)`), with the original's 2500 ms timeout and 3 tries.
    pub fn new(
        reactor: &Reactor<S>,
        factory: &ZmqFactory<S>,
        broker: &str,
        verbose: bool,
    ) -> Result<Self, tx0mq::connections::Error> {
        let client = Self {
            inner: Rc::new(RefCell::new(Inner {
                reactor: reactor.clone(),
                factory: factory.clone(),
                broker: broker.to_string(),
                verbose,
                timeout: REQUEST_TIMEOUT,
                retries: REQUEST_RETRIES,
                client: None,
                pending: None,
            })),
        };
        reconnect_to_broker(&client.inner)?;
        Ok(client)
    }

    /// How long to wait for a reply, each try (`client.timeout`).
    pub fn set_timeout(&self, timeout: Duration) {
        self.inner.borrow_mut().timeout = timeout;
    }

    /// How many times to send a request before giving up (`client.retries`;
    /// at least once).
    pub fn set_retries(&self, retries: u32) {
        self.inner.borrow_mut().retries = retries.max(1);
    }

    /// Sends `request` to `service` and returns the reply's body, `None`
    /// after every try went unanswered. Fails at once with [`Busy`] while
    /// another request waits, and with the connection's error if it cannot
    /// send.
    pub fn send(&self, service: &[u8], request: Message) -> Deferred<Option<Message>> {
        let mut frames = vec![Vec::new(), C_CLIENT.to_vec(), service.to_vec()];
        frames.extend(request);
        let mut inner = self.inner.borrow_mut();
        if inner.pending.is_some() {
            return tx0mq::reactor::fail(Failure::new(Busy));
        }
        if inner.verbose {
            log(format_args!(
                "I: send request to '{}' service: ",
                String::from_utf8_lossy(service)
            ));
            dump(&frames[1..]);
        }
        if let Err(e) = send_frames(&inner, &frames) {
            return tx0mq::reactor::fail(e);
        }
        let reply = Deferred::new();
        let timer = start_timer(&self.inner, &inner);
        inner.pending = Some(Pending {
            service: service.to_vec(),
            request: frames,
            retries_left: inner.retries - 1,
            timer,
            reply: reply.clone(),
        });
        reply
    }

    /// Closes the session: a waiting request fires with `None`.
    pub fn destroy(&self) {
        let pending = {
            let mut inner = self.inner.borrow_mut();
            if let Some(client) = inner.client.take() {
                client.shutdown();
            }
            inner.pending.take()
        };
        if let Some(pending) = pending {
            let _ = pending.timer.cancel();
            let _ = pending.reply.callback(None);
        }
    }
}

fn send_frames<S: 'static>(inner: &Inner<S>, frames: &Message) -> Result<(), Failure> {
    match &inner.client {
        Some(client) => Ok(client.send_msg(frames.clone())?),
        None => Err(Failure::msg("the session is closed")),
    }
}

/// The poll's timeout for the current try.
fn start_timer<S: 'static>(cell: &Rc<RefCell<Inner<S>>>, inner: &Inner<S>) -> DelayedCall {
    let weak = Rc::downgrade(cell);
    inner
        .reactor
        .call_later(inner.timeout, move |_| no_reply(&weak))
}

/// Connects (again) to the broker: a new DEALER, the old one closed at once
/// (`LINGER 0`).
fn reconnect_to_broker<S: 'static>(
    cell: &Rc<RefCell<Inner<S>>>,
) -> Result<(), tx0mq::connections::Error> {
    let mut inner = cell.borrow_mut();
    if let Some(old) = inner.client.take() {
        old.shutdown();
    }
    let options = ZmqOptions::new().linger(Duration::ZERO);
    let client = ZmqDealerConnection::with_options(
        &inner.factory,
        ZmqEndpoint::connect(&inner.broker),
        &options,
    )?;
    let weak = Rc::downgrade(cell);
    client.got_message(move |_, message| got_reply(&weak, message));
    inner.client = Some(client);
    if inner.verbose {
        log(format_args!(
            "I: connecting to broker at {}...",
            inner.broker
        ));
    }
    Ok(())
}

/// A reply arrived: `["", "MDPC01", service, body...]`.
fn got_reply<S: 'static>(weak: &Weak<RefCell<Inner<S>>>, message: Multipart) {
    let Some(cell) = weak.upgrade() else { return };
    let pending = {
        let mut inner = cell.borrow_mut();
        if inner.verbose {
            log("I: received reply:");
            dump(&message);
        }
        let expected = inner.pending.as_ref().map(|p| p.service.as_slice());
        match &message[..] {
            [empty, header, service, _, ..]
                if empty.is_empty()
                    && header[..] == *C_CLIENT
                    && Some(&service[..]) == expected => {}
            _ => {
                log("E: dropped a reply that is not [\"\", MDPC01, service, body...] for the request waiting:");
                dump(&message);
                return;
            }
        }
        inner.pending.take()
    };
    if let Some(pending) = pending {
        let _ = pending.timer.cancel();
        let _ = pending.reply.callback(Some(frames(&message[3..])));
    }
}

/// The try timed out: send again on a new socket, or give up.
fn no_reply<S: 'static>(weak: &Weak<RefCell<Inner<S>>>) {
    let Some(cell) = weak.upgrade() else { return };
    let retry = cell
        .borrow()
        .pending
        .as_ref()
        .is_some_and(|p| p.retries_left > 0);
    if !retry {
        log("W: permanent error, abandoning");
        let pending = cell.borrow_mut().pending.take();
        if let Some(pending) = pending {
            let _ = pending.reply.callback(None);
        }
        return;
    }
    log("W: no reply, reconnecting...");
    let resent = reconnect_to_broker(&cell)
        .map_err(Failure::new)
        .and_then(|()| {
            let inner = cell.borrow();
            match &inner.pending {
                Some(pending) => send_frames(&inner, &pending.request),
                None => Ok(()),
            }
        });
    let mut inner = cell.borrow_mut();
    match resent {
        Ok(()) => {
            let timer = start_timer(&cell, &inner);
            if let Some(pending) = inner.pending.as_mut() {
                pending.retries_left -= 1;
                pending.timer = timer;
            }
        }
        Err(failure) => {
            if let Some(pending) = inner.pending.take() {
                drop(inner);
                let _ = pending.reply.errback(failure);
            }
        }
    }
}
