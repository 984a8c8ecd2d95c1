//! Request/reply with Deferreds: [`ZmqReqConnection`] and [`ZmqRepConnection`]
//! (txZMQ's `req_rep`).
//!
//! Wire format, as txZMQ: the REQ connection is a DEALER that sends
//! `[message_id, "", parts...]` and matches each reply `[message_id, "",
//! parts...]` to its request's Deferred, so many requests can be in flight.
//! The REP connection is a ROUTER; the frame just before the first empty
//! delimiter is the message id and the frames before it the route back, so
//! plain REQ sockets (whose id is their routing identity) work as clients too.
//!
//! ```
//! use std::time::Duration;
//! use tx0mq_connections::{ZmqEndpoint, ZmqFactory, ZmqRepConnection, ZmqReqConnection};
//! use tx0mq_reactor::Reactor;
//!
//! let reactor = Reactor::builder().handle_signals(false).build()?;
//! let factory = ZmqFactory::new(&reactor)?;
//! let rep = ZmqRepConnection::new(&factory, ZmqEndpoint::bind("inproc://doc-reqrep"))?;
//! rep.got_message(|cx, message_id, request| {
//!     let mut answer = request[0].to_vec();
//!     answer.reverse();
//!     cx.conn.reply(&message_id, answer)
//! });
//! let req = ZmqReqConnection::new(&factory, ZmqEndpoint::connect("inproc://doc-reqrep"))?;
//! let stopper = reactor.clone();
//! req.send_msg(b"olleh")
//!     .add_timeout(&reactor, Duration::from_secs(5))
//!     .add_both(move |reply| {
//!         assert_eq!(&reply?[0][..], b"hello");
//!         stopper.stop()?;
//!         Ok(tx0mq_connections::Multipart::new())
//!     });
//! reactor.run()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::cell::{Cell, RefCell};
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::rc::Rc;
use std::time::Duration;

use tx0mq_reactor::{CallbackResult, Ctx, Deferred, DelayedCall, Failure};

use crate::connection::{
    connection_common, constructors, made_and_lost, with_zcx, ZmqConnection, ZmqCtx,
};
use crate::core::{ConnectionLost, Core, Handler};
use crate::error::{Error, Result, ZmqRequestTimeoutError};
use crate::frames::{escape, Frame, IntoMultipart, Multipart};

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

/// Sends requests and gets each reply as a [`Deferred`] (txZMQ's
/// `ZmqREQConnection`, over DEALER).
///
/// Replies to requests that timed out or were cancelled are dropped. Request
/// ids are 16 bytes, never reused (txZMQ draws UUIDs from a pool).
pub struct ZmqReqConnection<S: 'static = ()> {
    base: ZmqConnection<S>,
    state: Rc<ReqState>,
}

connection_common!(ZmqReqConnection { state });

/// tx0mq's name for [`ZmqReqConnection`].
#[deprecated(note = "use ZmqReqConnection (or ZmqDealerConnection for raw DEALER)")]
pub type ZmqXReqConnection<S = ()> = ZmqReqConnection<S>;

/// Holds the request table strongly: the factory keeps the connection (and
/// so this handler) alive even when the user drops every handle.
struct ReqHandler(Rc<ReqState>);

impl<S: 'static> Handler<S> for ReqHandler {
    fn message(&mut self, _cx: &mut Ctx<'_, S>, core: &Rc<Core<S>>, mut message: Multipart) {
        let state = &self.0;
        if message.len() < 2 || !message[1].is_empty() {
            log::warn!(
                "{}: dropped a reply that is not [id, \"\", parts...] ({} frame(s))",
                core.describe(),
                message.len()
            );
            return;
        }
        match state.number_of(&message[0]).and_then(|n| state.take(n)) {
            Some(pending) => {
                let parts: Multipart = message.drain(2..).collect();
                let _ = pending.deferred.callback(parts);
            }
            None => log::debug!(
                "{}: dropped a reply to {} (timed out, cancelled or unknown)",
                core.describe(),
                escape(&message[0])
            ),
        }
    }

    fn lost(&mut self, _cx: &mut Ctx<'_, S>, core: &Rc<Core<S>>, lost: &ConnectionLost) {
        let pending: Vec<Pending> = self
            .0
            .pending
            .borrow_mut()
            .drain()
            .map(|(_, p)| p)
            .collect();
        for p in pending {
            if let Some(timer) = p.timer {
                let _ = timer.cancel();
            }
            if lost.reason == crate::core::LostReason::ReactorShutdown {
                // The reactor is going away: nobody is left to handle a
                // failure, so the request is dropped unfired (as txZMQ's are).
                log::debug!(
                    "{}: a request was pending at reactor shutdown",
                    core.describe()
                );
                continue;
            }
            let _ = p.deferred.errback(Error::Closed {
                operation: "wait for a reply",
                connection: format!("{} ({lost})", core.describe()),
            });
        }
    }
}

impl<S: 'static> ZmqReqConnection<S> {
    constructors!("A REQ", |factory, endpoints, options| {
        let base = ZmqConnection::with_options(factory, zmq::DEALER, endpoints, options)?;
        let state = Rc::new(ReqState::new());
        base.core.set_handler(Box::new(ReqHandler(state.clone())))?;
        Ok(ZmqReqConnection { base, state })
    });

    /// The timeout for requests sent without one (txZMQ's
    /// `defaultRequestTimeout`; `None`, the default, waits forever).
    pub fn set_default_timeout(&self, timeout: Option<Duration>) {
        self.state.default_timeout.set(timeout);
    }

    /// Sends a request; the Deferred fires with the reply's frames, or fails
    /// with [`ZmqRequestTimeoutError`] after the default timeout, or with the
    /// send error. Cancelling it forgets the request (a late reply is dropped).
    pub fn send_msg(&self, parts: impl IntoMultipart) -> Deferred<Multipart> {
        self.send(parts.into_multipart(), self.state.default_timeout.get())
    }

    /// [`send_msg`](Self::send_msg) with its own timeout.
    pub fn send_msg_with_timeout(
        &self,
        parts: impl IntoMultipart,
        timeout: Duration,
    ) -> Deferred<Multipart> {
        self.send(parts.into_multipart(), Some(timeout))
    }

    /// Requests waiting for a reply.
    pub fn pending_requests(&self) -> usize {
        self.state.pending.borrow().len()
    }

    fn send(&self, parts: Multipart, timeout: Option<Duration>) -> Deferred<Multipart> {
        let n = self.state.next_number();
        let id = self.state.id_of(n);
        let weak = Rc::downgrade(&self.state);
        let deferred = Deferred::with_canceller(move |_| {
            if let Some(state) = weak.upgrade() {
                drop(state.take(n));
            }
        });
        let mut message = Multipart::with_capacity(parts.len() + 2);
        message.push(&id[..]);
        message.push(Frame::new());
        message.extend(parts);
        if let Err(e) = self.base.core.send(message, "send a request") {
            let _ = deferred.errback(e);
            return deferred;
        }
        let timer = match (timeout, self.base.core.reactor()) {
            (Some(timeout), Some(reactor)) => {
                let weak = Rc::downgrade(&self.state);
                Some(reactor.call_later(timeout, move |_| {
                    let Some(state) = weak.upgrade() else {
                        return;
                    };
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
        self.state.pending.borrow_mut().insert(
            n,
            Pending {
                deferred: deferred.clone(),
                timer,
            },
        );
        deferred
    }
}

/// A protocol for a [`ZmqRepConnection`] (txZMQ: override `gotMessage`).
pub trait RepProtocol<S: 'static = ()>: 'static {
    /// The connection is ready; called before any request.
    fn connection_made(&mut self, _cx: &mut ZmqCtx<'_, S, ZmqRepConnection<S>>) {}
    /// A request arrived; answer it with `cx.conn.reply(&message_id, ...)`,
    /// now or later.
    fn got_message(
        &mut self,
        cx: &mut ZmqCtx<'_, S, ZmqRepConnection<S>>,
        message_id: Frame,
        parts: Multipart,
    );
    /// The connection was shut down.
    fn connection_lost(
        &mut self,
        _cx: &mut ZmqCtx<'_, S, ZmqRepConnection<S>>,
        _lost: &ConnectionLost,
    ) {
    }
}

type Routes = Rc<RefCell<HashMap<Vec<u8>, Multipart>>>;

/// Answers requests (txZMQ's `ZmqREPConnection`, over ROUTER). Requests
/// need not be answered in order, nor at once.
///
/// A request with no empty delimiter, or with nothing before it, is logged
/// and dropped.
///
/// Replies go out through a ROUTER, which never queues: at the default
/// high-water mark (1000 per peer) libzmq drops replies to a peer that has
/// not read the previous thousand. txZMQ sets no limit; to match it, build
/// the connection with `ZmqOptions::new().high_water_mark(0)`.
pub struct ZmqRepConnection<S: 'static = ()> {
    base: ZmqConnection<S>,
    routes: Routes,
}

connection_common!(ZmqRepConnection { routes });

/// tx0mq's name for [`ZmqRepConnection`].
#[deprecated(note = "use ZmqRepConnection (or ZmqRouterConnection for raw ROUTER)")]
pub type ZmqXRepConnection<S = ()> = ZmqRepConnection<S>;

struct RepHandler<P>(P, Routes);

impl<S: 'static, P: RepProtocol<S>> Handler<S> for RepHandler<P> {
    made_and_lost!(|core, this| ZmqRepConnection::from_core(core, &this.1));
    fn message(&mut self, cx: &mut Ctx<'_, S>, core: &Rc<Core<S>>, mut message: Multipart) {
        let Some(delimiter) = message.iter().position(|f| f.is_empty()) else {
            log::warn!(
                "{}: dropped a request with no empty delimiter ({} frame(s))",
                core.describe(),
                message.len()
            );
            return;
        };
        if delimiter == 0 {
            log::warn!(
                "{}: dropped a request with no message id before its delimiter",
                core.describe()
            );
            return;
        }
        let parts = message.split_off(delimiter + 1);
        message.truncate(delimiter);
        let Some(id) = message.pop() else {
            return;
        };
        let previous = self.1.borrow_mut().insert(id.to_vec(), message);
        if previous.is_some() {
            log::warn!(
                "{}: a second request with id {} arrived before the first was answered; \
                 the reply goes to the newer one",
                core.describe(),
                escape(&id)
            );
        }
        let conn = ZmqRepConnection::from_core(core, &self.1);
        with_zcx(cx, &conn, |zcx| self.0.got_message(zcx, id, parts));
    }
}

struct RepFn<F>(F);

impl<S: 'static, F, R> RepProtocol<S> for RepFn<F>
where
    F: FnMut(&mut ZmqCtx<'_, S, ZmqRepConnection<S>>, Frame, Multipart) -> R + 'static,
    R: CallbackResult,
{
    fn got_message(
        &mut self,
        cx: &mut ZmqCtx<'_, S, ZmqRepConnection<S>>,
        message_id: Frame,
        parts: Multipart,
    ) {
        (self.0)(cx, message_id, parts).report("got_message");
    }
}

impl<S: 'static> ZmqRepConnection<S> {
    fn from_core(core: &Rc<Core<S>>, routes: &Routes) -> Self {
        ZmqRepConnection {
            base: ZmqConnection { core: core.clone() },
            routes: routes.clone(),
        }
    }

    constructors!("A REP", |factory, endpoints, options| {
        Ok(ZmqRepConnection {
            base: ZmqConnection::with_options(factory, zmq::ROUTER, endpoints, options)?,
            routes: Rc::default(),
        })
    });

    /// Answers the request `message_id` (txZMQ's `reply`).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownMessageId`] if no request with that id is waiting
    /// (unknown, or already answered); `Error::Closed` after shutdown.
    pub fn reply(&self, message_id: &[u8], parts: impl IntoMultipart) -> Result<()> {
        if self.base.core.is_closed() {
            return Err(Error::Closed {
                operation: "reply",
                connection: self.base.core.describe(),
            });
        }
        let Some(mut message) = self.routes.borrow_mut().remove(message_id) else {
            return Err(Error::UnknownMessageId {
                message_id: message_id.to_vec(),
            });
        };
        message.push(Frame::from(message_id));
        message.push(Frame::new());
        message.extend(parts.into_multipart());
        self.base.core.send(message, "reply")
    }

    /// Requests received and not answered yet.
    pub fn unanswered(&self) -> usize {
        self.routes.borrow().len()
    }

    /// Sets the protocol.
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown.
    pub fn set_protocol(&self, protocol: impl RepProtocol<S>) -> Result<()> {
        self.base
            .core
            .set_handler(Box::new(RepHandler(protocol, self.routes.clone())))
    }

    /// Sets a closure as `got_message(message_id, parts)` (txZMQ:
    /// `rep.gotMessage = f`). It may return `()` or a `Result`, whose error
    /// is logged.
    pub fn got_message<F, R>(&self, f: F)
    where
        F: FnMut(&mut ZmqCtx<'_, S, ZmqRepConnection<S>>, Frame, Multipart) -> R + 'static,
        R: CallbackResult,
    {
        crate::warn_closed(self.set_protocol(RepFn(f)));
    }
}
