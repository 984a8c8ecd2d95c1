//! REQ over DEALER, with Deferreds: txZMQ's `ZmqREQConnection`.
//!
//! Wire format, as txZMQ: the connection is a DEALER that sends
//! `[message_id, "", parts...]` and matches each reply `[message_id, "",
//! parts...]` to its request's Deferred, so many requests can be in flight.

use std::cell::{Cell, RefCell};
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::rc::{Rc, Weak};
use std::time::Duration;

use tx0mq_reactor::{Deferred, DelayedCall, Failure};

use crate::connection::Connection;
use crate::core::{ConnectionLost, Core, LostReason};
use crate::error::{Error, ZmqRequestTimeoutError};
use crate::frames::{escape, Frame, IntoMultipart, Multipart};
use crate::pattern::{Decoded, NoEvent, Pattern};

struct Pending {
    deferred: Deferred<Multipart>,
    timer: Option<DelayedCall>,
}

/// Hashes the request numbers this connection draws from its own counter:
/// one multiply (Fibonacci hashing) instead of SipHash. The numbers never
/// come from a peer, so there is nothing to defend against.
#[derive(Default, Clone, Copy)]
struct RequestNumberHasher(u64);

impl Hasher for RequestNumberHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(self.0.rotate_left(8) ^ u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

#[derive(Default)]
struct ReqState {
    /// Requests waiting for a reply, by request number.
    pending: RefCell<HashMap<u64, Pending, BuildHasherDefault<RequestNumberHasher>>>,
    default_timeout: Cell<Option<Duration>>,
    prefix: [u8; 8],
    counter: Cell<u64>,
}

impl ReqState {
    fn new() -> Self {
        // A random prefix per connection and a counter: unique ids that are
        // never reused, so a late reply can never match a newer request.
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_usize(&hasher as *const _ as usize);
        ReqState {
            prefix: hasher.finish().to_be_bytes(),
            ..ReqState::default()
        }
    }

    fn next_number(&self) -> u64 {
        let n = self.counter.get().wrapping_add(1);
        self.counter.set(n);
        n
    }

    /// The wire id of request `n`: the connection's prefix, then `n`.
    fn id_of(&self, n: u64) -> [u8; 16] {
        let mut id = [0; 16];
        id[..8].copy_from_slice(&self.prefix);
        id[8..].copy_from_slice(&n.to_be_bytes());
        id
    }

    /// The request number in a reply's id, if the id is one of ours.
    fn number_of(&self, id: &[u8]) -> Option<u64> {
        let (prefix, n) = id.split_at_checked(8)?;
        if prefix != self.prefix {
            return None;
        }
        Some(u64::from_be_bytes(n.try_into().ok()?))
    }

    /// Forgets a request; the caller fires or drops its Deferred.
    fn take(&self, n: u64) -> Option<Pending> {
        let pending = self.pending.borrow_mut().remove(&n)?;
        if let Some(timer) = &pending.timer {
            let _ = timer.cancel();
        }
        Some(pending)
    }
}

/// The REQ pattern (over a DEALER socket), with its table of pending
/// requests.
#[derive(Clone)]
pub struct Req {
    state: Rc<ReqState>,
}

impl Default for Req {
    fn default() -> Self {
        Req {
            state: Rc::new(ReqState::new()),
        }
    }
}

impl std::fmt::Debug for Req {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Req")
            .field("pending", &self.state.pending.borrow().len())
            .finish()
    }
}

impl Pattern for Req {
    /// Replies go to their requests' Deferreds; a protocol hears none.
    type Event = NoEvent;

    fn socket_type(&self) -> zmq::SocketType {
        zmq::DEALER
    }

    fn decode(&self, mut message: Multipart) -> Decoded<NoEvent> {
        let state = &self.state;
        if message.len() < 2 || !message[1].is_empty() {
            return Decoded::Malformed(format!(
                "a reply that is not [id, \"\", parts...] ({} frame(s))",
                message.len()
            ));
        }
        match state.number_of(&message[0]).and_then(|n| state.take(n)) {
            Some(pending) => {
                let parts: Multipart = message.drain(2..).collect();
                let _ = pending.deferred.callback(parts);
            }
            None => log::debug!(
                "dropped a reply to {} (timed out, cancelled or unknown)",
                escape(&message[0])
            ),
        }
        Decoded::Consumed
    }

    fn reads_without_protocol(&self) -> bool {
        true
    }

    fn lost(&self, connection: &str, lost: &ConnectionLost) {
        let pending: Vec<Pending> = self
            .state
            .pending
            .borrow_mut()
            .drain()
            .map(|(_, p)| p)
            .collect();
        for p in pending {
            if let Some(timer) = p.timer {
                let _ = timer.cancel();
            }
            if lost.reason == LostReason::ReactorShutdown {
                // The reactor is going away: nobody is left to handle a
                // failure, so the request is dropped unfired (as txZMQ's are).
                log::debug!("{connection}: a request was pending at reactor shutdown");
                continue;
            }
            let _ = p.deferred.errback(Error::Closed {
                operation: "wait for a reply",
                connection: format!("{connection} ({lost})"),
            });
        }
    }
}

/// Sends requests and gets each reply as a [`Deferred`] (txZMQ's
/// `ZmqREQConnection`, over DEALER).
///
/// Replies to requests that timed out or were cancelled are dropped. Request
/// ids are 16 bytes, never reused (txZMQ draws UUIDs from a pool). There is
/// no raw `send`: every message this connection sends carries a request id.
///
/// ```
/// use std::time::Duration;
/// use tx0mq_connections::{ZmqEndpoint, ZmqFactory, ZmqRepConnection, ZmqReqConnection};
/// use tx0mq_reactor::Reactor;
///
/// let reactor = Reactor::builder().handle_signals(false).build()?;
/// let factory = ZmqFactory::new(&reactor)?;
/// let rep = ZmqRepConnection::new(&factory, ZmqEndpoint::bind("inproc://doc-reqrep"))?;
/// rep.got_message(|cx, message_id, request| {
///     let mut answer = request[0].to_vec();
///     answer.reverse();
///     cx.conn.reply(&message_id, answer)
/// });
/// let req = ZmqReqConnection::new(&factory, ZmqEndpoint::connect("inproc://doc-reqrep"))?;
/// let stopper = reactor.clone();
/// req.send_msg(b"olleh")
///     .add_timeout(&reactor, Duration::from_secs(5))
///     .add_both(move |reply| {
///         assert_eq!(&reply?[0][..], b"hello");
///         stopper.stop()?;
///         Ok(tx0mq_connections::Multipart::new())
///     });
/// reactor.run()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type ZmqReqConnection<S = ()> = Connection<Req, S>;

/// tx0mq's name for [`ZmqReqConnection`].
#[deprecated(note = "use ZmqReqConnection (or ZmqDealerConnection for raw DEALER)")]
pub type ZmqXReqConnection<S = ()> = ZmqReqConnection<S>;

impl<S: 'static> Connection<Req, S> {
    /// The timeout for requests sent without one (txZMQ's
    /// `defaultRequestTimeout`; `None`, the default, waits forever).
    pub fn set_default_timeout(&self, timeout: Option<Duration>) {
        self.pattern.state.default_timeout.set(timeout);
    }

    /// Sends a request; the Deferred fires with the reply's frames, or fails
    /// with [`ZmqRequestTimeoutError`] after the default timeout, or with the
    /// send error. Cancelling it forgets the request (a late reply is dropped).
    pub fn send_msg(&self, parts: impl IntoMultipart) -> Deferred<Multipart> {
        self.request(
            parts.into_multipart(),
            self.pattern.state.default_timeout.get(),
        )
    }

    /// [`send_msg`](Self::send_msg) with its own timeout.
    pub fn send_msg_with_timeout(
        &self,
        parts: impl IntoMultipart,
        timeout: Duration,
    ) -> Deferred<Multipart> {
        self.request(parts.into_multipart(), Some(timeout))
    }

    /// Requests waiting for a reply.
    pub fn pending_requests(&self) -> usize {
        self.pattern.state.pending.borrow().len()
    }

    fn request(&self, parts: Multipart, timeout: Option<Duration>) -> Deferred<Multipart> {
        let n = self.pattern.state.next_number();
        let id = self.pattern.state.id_of(n);
        let weak = Rc::downgrade(&self.pattern.state);
        let core = Rc::downgrade(&self.core);
        let deferred = Deferred::with_canceller(move |_| {
            if let Some(state) = weak.upgrade() {
                drop(state.take(n));
            }
            unqueue(&core, &id);
        });
        let mut message = Multipart::with_capacity(parts.len() + 2);
        message.push(&id[..]);
        message.push(Frame::new());
        message.extend(parts);
        if let Err(e) = self.core.send(message, "send a request") {
            let _ = deferred.errback(e);
            return deferred;
        }
        let timer = match (timeout, self.core.reactor()) {
            (Some(timeout), Some(reactor)) => {
                let weak = Rc::downgrade(&self.pattern.state);
                let core = Rc::downgrade(&self.core);
                Some(reactor.call_later(timeout, move |_| {
                    let Some(state) = weak.upgrade() else {
                        return;
                    };
                    unqueue(&core, &id);
                    let pending = state.pending.borrow_mut().remove(&n);
                    if let Some(pending) = pending {
                        let error = ZmqRequestTimeoutError {
                            message_id: id.to_vec(),
                            timeout,
                        };
                        let _ = pending.deferred.errback(Failure::new(error));
                    }
                }))
            }
            _ => None,
        };
        self.pattern.state.pending.borrow_mut().insert(
            n,
            Pending {
                deferred: deferred.clone(),
                timer,
            },
        );
        deferred
    }
}

/// Takes a request that timed out or was cancelled out of the outbox, if it
/// is still waiting there: it must neither hold an outbox slot nor reach a
/// peer that comes later.
fn unqueue<S: 'static>(core: &Weak<Core<S>>, id: &[u8; 16]) {
    if let Some(core) = core.upgrade() {
        core.unqueue(|message| message.first().is_some_and(|frame| frame[..] == id[..]));
    }
}
