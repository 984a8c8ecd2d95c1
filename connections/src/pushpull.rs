//! PUSH/PULL: [`ZmqPushConnection`] and [`ZmqPullConnection`] (txZMQ's
//! `pushpull`). Messages are raw multipart.
//!
//! ```
//! use tx0mq_connections::{ZmqEndpoint, ZmqFactory, ZmqPullConnection, ZmqPushConnection};
//! use tx0mq_reactor::Reactor;
//!
//! let reactor = Reactor::builder().state(Vec::new()).handle_signals(false).build()?;
//! let factory = ZmqFactory::new(&reactor)?;
//! let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind("inproc://doc-pushpull"))?;
//! let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect("inproc://doc-pushpull"))?;
//! pull.on_pull(|cx, message| {
//!     cx.state.push(message[0].to_vec());
//!     if cx.state.len() == 3 {
//!         cx.reactor.stop()?;
//!     }
//!     Ok::<(), tx0mq_reactor::Error>(())
//! });
//! for word in ["a", "b", "c"] {
//!     push.push(word)?;
//! }
//! reactor.run()?;
//! assert_eq!(reactor.access_state(|got| got.clone())?, [b"a", b"b", b"c"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Backpressure: a push that libzmq cannot take (no peer yet, or the peer's
//! high-water mark reached) waits in the outbox and is sent in order later;
//! when the outbox is full, `push` fails with `Error::OutboxFull`.

use std::rc::Rc;

use tx0mq_reactor::{CallbackResult, Ctx};

use crate::connection::{
    connection_common, constructors, made_and_lost, with_zcx, ZmqConnection, ZmqCtx,
};
use crate::core::{ConnectionLost, Core, Handler};
use crate::error::Result;
use crate::frames::{IntoMultipart, Multipart};

/// Pushes messages to PULL peers, round-robin (txZMQ's `ZmqPushConnection`).
pub struct ZmqPushConnection<S: 'static = ()> {
    base: ZmqConnection<S>,
}

connection_common!(ZmqPushConnection {});

impl<S: 'static> ZmqPushConnection<S> {
    constructors!("A PUSH", |factory, endpoints, options| {
        Ok(ZmqPushConnection {
            base: ZmqConnection::with_options(factory, zmq::PUSH, endpoints, options)?,
        })
    });

    /// Pushes a message (one frame or a multipart), whole.
    ///
    /// # Errors
    ///
    /// As for [`ZmqConnection::send`].
    pub fn push(&self, message: impl IntoMultipart) -> Result<()> {
        self.base.core.send_message(message, "push")
    }
}

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
}

/// Receives messages from PUSH peers, fair-queued (txZMQ's `ZmqPullConnection`).
pub struct ZmqPullConnection<S: 'static = ()> {
    base: ZmqConnection<S>,
}

connection_common!(ZmqPullConnection {});

struct PullHandler<P>(P);

impl<S: 'static, P: PullProtocol<S>> Handler<S> for PullHandler<P> {
    made_and_lost!(|core, this| ZmqPullConnection::from_core(core));
    fn message(&mut self, cx: &mut Ctx<'_, S>, core: &Rc<Core<S>>, message: Multipart) {
        let conn = ZmqPullConnection::from_core(core);
        with_zcx(cx, &conn, |zcx| self.0.on_pull(zcx, message));
    }
}

struct PullFn<F>(F);

impl<S: 'static, F, R> PullProtocol<S> for PullFn<F>
where
    F: FnMut(&mut ZmqCtx<'_, S, ZmqPullConnection<S>>, Multipart) -> R + 'static,
    R: CallbackResult,
{
    fn on_pull(&mut self, cx: &mut ZmqCtx<'_, S, ZmqPullConnection<S>>, message: Multipart) {
        (self.0)(cx, message).report("on_pull");
    }
}

impl<S: 'static> ZmqPullConnection<S> {
    fn from_core(core: &Rc<Core<S>>) -> Self {
        ZmqPullConnection {
            base: ZmqConnection { core: core.clone() },
        }
    }

    constructors!(
        /// Set its protocol with [`on_pull`](Self::on_pull) or
        /// [`set_protocol`](Self::set_protocol).
        "A PULL",
        |factory, endpoints, options| {
            Ok(ZmqPullConnection {
                base: ZmqConnection::with_options(factory, zmq::PULL, endpoints, options)?,
            })
        }
    );

    /// Sets the protocol.
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown.
    pub fn set_protocol(&self, protocol: impl PullProtocol<S>) -> Result<()> {
        self.base.core.set_handler(Box::new(PullHandler(protocol)))
    }

    /// Sets a closure as `on_pull` (txZMQ: `pull.onPull = f`). It may return
    /// `()` or a `Result`, whose error is logged.
    pub fn on_pull<F, R>(&self, f: F)
    where
        F: FnMut(&mut ZmqCtx<'_, S, ZmqPullConnection<S>>, Multipart) -> R + 'static,
        R: CallbackResult,
    {
        crate::warn_closed(self.set_protocol(PullFn(f)));
    }
}
