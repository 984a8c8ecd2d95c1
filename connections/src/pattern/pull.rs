//! PULL: txZMQ's `ZmqPullConnection`.

use tx0mq_reactor::CallbackResult;

use crate::connection::{Connection, Protocol, ZmqCtx};
use crate::core::ConnectionLost;
use crate::frames::Multipart;
use crate::pattern::{Decoded, Pattern};

/// The PULL pattern: messages from PUSH peers, fair-queued, raw multipart.
#[derive(Clone, Copy, Debug, Default)]
pub struct Pull;

impl Pattern for Pull {
    type Event = Multipart;

    fn socket_type(&self) -> zmq::SocketType {
        zmq::PULL
    }

    fn decode(&self, message: Multipart) -> Decoded<Multipart> {
        Decoded::Event(message)
    }
}

/// Receives messages from PUSH peers, fair-queued (txZMQ's
/// `ZmqPullConnection`). Set its protocol with
/// [`on_pull`](Connection::on_pull) or [`set_protocol`](Connection::set_protocol).
pub type ZmqPullConnection<S = ()> = Connection<Pull, S>;

/// A protocol for a [`ZmqPullConnection`] (txZMQ: override `onPull`).
pub trait PullProtocol<S: 'static = ()>: 'static {
    /// The connection is ready; called before any message.
    fn connection_made(&mut self, _cx: &mut ZmqCtx<'_, S, ZmqPullConnection<S>>) {}
    /// A message was pulled.
    fn on_pull(&mut self, cx: &mut ZmqCtx<'_, S, ZmqPullConnection<S>>, message: Multipart);
    /// The connection was shut down.
    fn connection_lost(
        &mut self,
        _cx: &mut ZmqCtx<'_, S, ZmqPullConnection<S>>,
        _lost: &ConnectionLost,
    ) {
    }
    crate::monitor::monitor_hooks!(ZmqPullConnection<S>);
}

impl<S: 'static, P: PullProtocol<S>> Protocol<Pull, S> for P {
    fn connection_made(&mut self, cx: &mut ZmqCtx<'_, S, ZmqPullConnection<S>>) {
        PullProtocol::connection_made(self, cx);
    }
    fn received(&mut self, cx: &mut ZmqCtx<'_, S, ZmqPullConnection<S>>, message: Multipart) {
        self.on_pull(cx, message);
    }
    fn connection_lost(
        &mut self,
        cx: &mut ZmqCtx<'_, S, ZmqPullConnection<S>>,
        lost: &ConnectionLost,
    ) {
        PullProtocol::connection_lost(self, cx, lost);
    }
    crate::monitor::forward_monitor_hooks!(PullProtocol<S>, ZmqPullConnection<S>);
}

impl<S: 'static> Connection<Pull, S> {
    /// Sets a closure as `on_pull` (txZMQ: `pull.onPull = f`). It may return
    /// `()` or a `Result`, whose error is logged.
    pub fn on_pull<F, R>(&self, f: F)
    where
        F: FnMut(&mut ZmqCtx<'_, S, ZmqPullConnection<S>>, Multipart) -> R + 'static,
        R: CallbackResult,
    {
        self.set_named(f, "on_pull");
    }
}
