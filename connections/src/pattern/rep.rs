//! REP over ROUTER: txZMQ's `ZmqREPConnection`.
//!
//! The frame just before the first empty delimiter is the message id and
//! the frames before it the route back, so txZMQ's REQ connections and plain
//! REQ sockets (whose id is their routing identity) work as clients alike.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use tx0mq_reactor::CallbackResult;

use crate::connection::{Connection, Protocol, ZmqCtx};
use crate::core::ConnectionLost;
use crate::error::{Error, Result};
use crate::frames::{escape, Frame, IntoMultipart, Multipart};
use crate::pattern::{Decoded, Pattern, Refused};
use crate::warn_limit::WarnLimit;

/// The REP pattern (over a ROUTER socket), with the routes back to the
/// requests not answered yet.
#[derive(Clone, Debug, Default)]
pub struct Rep {
    state: Rc<RepState>,
}

#[derive(Debug, Default)]
struct RepState {
    /// The route back for each request not answered yet, by message id.
    routes: RefCell<HashMap<Vec<u8>, Multipart>>,
    /// The id of the request being delivered to the protocol.
    delivering: RefCell<Option<Vec<u8>>>,
    /// Requests whose id was already waiting, logged at a bounded rate.
    duplicates: RefCell<WarnLimit>,
}

impl Pattern for Rep {
    /// `(message_id, parts)`.
    type Event = (Frame, Multipart);

    fn socket_type(&self) -> zmq::SocketType {
        zmq::ROUTER
    }

    fn when_refused(&self) -> Refused {
        Refused::Fail
    }

    fn decode(&self, mut message: Multipart) -> Decoded<(Frame, Multipart)> {
        let Some(delimiter) = message.iter().position(|f| f.is_empty()) else {
            return Decoded::Malformed(format!(
                "a request with no empty delimiter ({} frame(s))",
                message.len()
            ));
        };
        if delimiter == 0 {
            return Decoded::Malformed("a request with no message id before its delimiter".into());
        }
        let parts = message.split_off(delimiter + 1);
        message.truncate(delimiter);
        let Some(id) = message.pop() else {
            return Decoded::Malformed("a request with no message id".into());
        };
        let previous = self.state.routes.borrow_mut().insert(id.to_vec(), message);
        if previous.is_some() {
            self.state.duplicates.borrow_mut().warn(
                || "REP connection".to_string(),
                "requests with an id already waiting",
                || {
                    format!(
                        "a second request with id {} arrived before the first was answered; \
                         the reply goes to the newer one",
                        escape(&id)
                    )
                },
            );
        }
        *self.state.delivering.borrow_mut() = Some(id.to_vec());
        Decoded::Event((id, parts))
    }

    const NOTIFY_PANIC: bool = true;

    /// The protocol panicked on a request: nobody will answer it, so its
    /// route goes (unless the protocol answered before it panicked).
    fn protocol_panicked(&self) {
        let id = self.state.delivering.borrow_mut().take();
        if let Some(id) = id {
            self.state.routes.borrow_mut().remove(&id);
        }
    }
}

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
pub type ZmqRepConnection<S = ()> = Connection<Rep, S>;

/// tx0mq's name for [`ZmqRepConnection`].
#[deprecated(note = "use ZmqRepConnection (or ZmqRouterConnection for raw ROUTER)")]
pub type ZmqXRepConnection<S = ()> = ZmqRepConnection<S>;

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
    crate::monitor::monitor_hooks!(ZmqRepConnection<S>);
}

impl<S: 'static, P: RepProtocol<S>> Protocol<Rep, S> for P {
    fn connection_made(&mut self, cx: &mut ZmqCtx<'_, S, ZmqRepConnection<S>>) {
        RepProtocol::connection_made(self, cx);
    }
    fn received(
        &mut self,
        cx: &mut ZmqCtx<'_, S, ZmqRepConnection<S>>,
        (id, parts): (Frame, Multipart),
    ) {
        self.got_message(cx, id, parts);
    }
    fn connection_lost(
        &mut self,
        cx: &mut ZmqCtx<'_, S, ZmqRepConnection<S>>,
        lost: &ConnectionLost,
    ) {
        RepProtocol::connection_lost(self, cx, lost);
    }
    crate::monitor::forward_monitor_hooks!(RepProtocol<S>, ZmqRepConnection<S>);
}

impl<S: 'static> Connection<Rep, S> {
    /// Answers the request `message_id` (txZMQ's `reply`).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownMessageId`] if no request with that id is waiting
    /// (unknown, or already answered); `Error::Closed` after shutdown.
    pub fn reply(&self, message_id: &[u8], parts: impl IntoMultipart) -> Result<()> {
        if self.core.is_closed() {
            return Err(Error::Closed {
                operation: "reply",
                connection: self.core.describe(),
            });
        }
        let Some(mut message) = self.pattern.state.routes.borrow_mut().remove(message_id) else {
            return Err(Error::UnknownMessageId {
                message_id: message_id.to_vec(),
            });
        };
        message.push(Frame::from(message_id));
        message.push(Frame::new());
        message.extend(parts.into_multipart());
        self.core.send(message, "reply")
    }

    /// Requests received and not answered yet.
    pub fn unanswered(&self) -> usize {
        self.pattern.state.routes.borrow().len()
    }

    /// Sets a closure as `got_message(message_id, parts)` (txZMQ:
    /// `rep.gotMessage = f`). It may return `()` or a `Result`, whose error
    /// is logged.
    pub fn got_message<F, R>(&self, mut f: F)
    where
        F: FnMut(&mut ZmqCtx<'_, S, ZmqRepConnection<S>>, Frame, Multipart) -> R + 'static,
        R: CallbackResult,
    {
        self.set_named(move |cx, (id, parts)| f(cx, id, parts), "got_message");
    }
}
