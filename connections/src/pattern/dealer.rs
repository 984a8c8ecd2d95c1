//! Raw DEALER: txZMQ's `ZmqDealerConnection`.

use tx0mq_reactor::CallbackResult;

use crate::connection::{Connection, Protocol, ZmqCtx};
use crate::core::ConnectionLost;
use crate::error::Result;
use crate::frames::{IntoMultipart, Multipart};
use crate::pattern::{Decoded, Pair, Pattern};

/// The DEALER pattern: raw multipart messages, round-robin out, fair-queued in.
#[derive(Clone, Copy, Debug, Default)]
pub struct Dealer;

impl Pattern for Dealer {
    type Event = Multipart;

    fn socket_type(&self) -> zmq::SocketType {
        zmq::DEALER
    }

    fn decode(&self, message: Multipart) -> Decoded<Multipart> {
        Decoded::Event(message)
    }
}

/// A raw DEALER connection (txZMQ's `ZmqDealerConnection`).
pub type ZmqDealerConnection<S = ()> = Connection<Dealer, S>;

/// A protocol for a [`ZmqDealerConnection`] (txZMQ: override `gotMessage`),
/// or, with `K = Pair`, for a [`ZmqPairConnection`](crate::ZmqPairConnection).
pub trait DealerProtocol<S: 'static = (), K: Pattern = Dealer>: 'static {
    /// The connection is ready.
    fn connection_made(&mut self, _cx: &mut ZmqCtx<'_, S, Connection<K, S>>) {}
    /// A message arrived.
    fn got_message(&mut self, cx: &mut ZmqCtx<'_, S, Connection<K, S>>, parts: Multipart);
    /// The connection was shut down.
    fn connection_lost(
        &mut self,
        _cx: &mut ZmqCtx<'_, S, Connection<K, S>>,
        _lost: &ConnectionLost,
    ) {
    }
    crate::monitor::monitor_hooks!(Connection<K, S>);
}

impl<S: 'static, P: DealerProtocol<S, Dealer>> Protocol<Dealer, S> for P {
    fn connection_made(&mut self, cx: &mut ZmqCtx<'_, S, ZmqDealerConnection<S>>) {
        DealerProtocol::connection_made(self, cx);
    }
    fn received(&mut self, cx: &mut ZmqCtx<'_, S, ZmqDealerConnection<S>>, parts: Multipart) {
        self.got_message(cx, parts);
    }
    fn connection_lost(
        &mut self,
        cx: &mut ZmqCtx<'_, S, ZmqDealerConnection<S>>,
        lost: &ConnectionLost,
    ) {
        DealerProtocol::connection_lost(self, cx, lost);
    }
    crate::monitor::forward_monitor_hooks!(DealerProtocol<S, Dealer>, ZmqDealerConnection<S>);
}

impl<S: 'static, P: DealerProtocol<S, Pair>> Protocol<Pair, S> for P {
    fn connection_made(&mut self, cx: &mut ZmqCtx<'_, S, Connection<Pair, S>>) {
        DealerProtocol::connection_made(self, cx);
    }
    fn received(&mut self, cx: &mut ZmqCtx<'_, S, Connection<Pair, S>>, parts: Multipart) {
        self.got_message(cx, parts);
    }
    fn connection_lost(
        &mut self,
        cx: &mut ZmqCtx<'_, S, Connection<Pair, S>>,
        lost: &ConnectionLost,
    ) {
        DealerProtocol::connection_lost(self, cx, lost);
    }
    crate::monitor::forward_monitor_hooks!(DealerProtocol<S, Pair>, Connection<Pair, S>);
}

impl<S: 'static> Connection<Dealer, S> {
    /// Sends a message (txZMQ's `sendMsg` / `sendMultipart`). If libzmq
    /// cannot take it now (no peer yet, or the high-water mark), it waits in
    /// the outbox and goes out in order.
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown; `Error::OutboxFull` when the outbox is
    /// at its limit (the message was not sent).
    pub fn send_msg(&self, parts: impl IntoMultipart) -> Result<()> {
        self.core.send_message(parts, "send")
    }

    /// Sets a closure as `got_message(parts)`.
    pub fn got_message<F, R>(&self, f: F)
    where
        F: FnMut(&mut ZmqCtx<'_, S, ZmqDealerConnection<S>>, Multipart) -> R + 'static,
        R: CallbackResult,
    {
        self.set_named(f, "got_message");
    }
}
