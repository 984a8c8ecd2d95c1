//! Raw ROUTER, DEALER and PAIR connections (txZMQ's `router_dealer`).
//!
//! ```
//! use tx0mq_connections::{ZmqDealerConnection, ZmqEndpoint, ZmqFactory, ZmqOptions, ZmqRouterConnection};
//! use tx0mq_reactor::Reactor;
//!
//! let reactor = Reactor::builder().handle_signals(false).build()?;
//! let factory = ZmqFactory::new(&reactor)?;
//! let router = ZmqRouterConnection::new(&factory, ZmqEndpoint::bind("inproc://doc-router"))?;
//! router.got_message(|cx, sender, parts| cx.conn.send_msg(&sender, parts));
//! let dealer = ZmqDealerConnection::with_options(
//!     &factory,
//!     ZmqEndpoint::connect("inproc://doc-router"),
//!     &ZmqOptions::new().identity(b"dealer-1"),
//! )?;
//! dealer.got_message(|cx, parts| {
//!     assert_eq!(&parts[0][..], b"echo");
//!     cx.reactor.stop()
//! });
//! dealer.send_msg(b"echo")?;
//! reactor.run()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::rc::Rc;

use tx0mq_reactor::{CallbackResult, Ctx};

use crate::connection::{
    connection_common, constructors, made_and_lost, with_zcx, IntoEndpoints, ZmqConnection, ZmqCtx,
};
use crate::core::{ConnectionLost, Core, Handler};
use crate::error::Result;
use crate::factory::ZmqFactory;
use crate::frames::{Frame, IntoMultipart, Multipart};
use crate::options::ZmqOptions;

/// A protocol for a [`ZmqRouterConnection`] (txZMQ: override `gotMessage`).
pub trait RouterProtocol<S: 'static = ()>: 'static {
    /// The connection is ready.
    fn connection_made(&mut self, _cx: &mut ZmqCtx<'_, S, ZmqRouterConnection<S>>) {}
    /// A message arrived from the peer with routing id `sender`.
    fn got_message(
        &mut self,
        cx: &mut ZmqCtx<'_, S, ZmqRouterConnection<S>>,
        sender: Frame,
        parts: Multipart,
    );
    /// The connection was shut down.
    fn connection_lost(
        &mut self,
        _cx: &mut ZmqCtx<'_, S, ZmqRouterConnection<S>>,
        _lost: &ConnectionLost,
    ) {
    }
}

/// A raw ROUTER connection (txZMQ's `ZmqRouterConnection`): messages come
/// with their sender's routing id and go to a recipient's.
///
/// A ROUTER never queues (see [`send_msg`](Self::send_msg)): at the default
/// high-water mark (1000 per peer) libzmq drops messages for a peer that does
/// not keep up. txZMQ sets no limit; `ZmqOptions::new().high_water_mark(0)`
/// matches it, and `router_mandatory(true)` turns drops into errors.
pub struct ZmqRouterConnection<S: 'static = ()> {
    base: ZmqConnection<S>,
}

connection_common!(ZmqRouterConnection {});

struct RouterHandler<P>(P);

impl<S: 'static, P: RouterProtocol<S>> Handler<S> for RouterHandler<P> {
    made_and_lost!(|core, this| ZmqRouterConnection::from_core(core));
    fn message(&mut self, cx: &mut Ctx<'_, S>, core: &Rc<Core<S>>, mut message: Multipart) {
        if message.is_empty() {
            return;
        }
        let parts = message.split_off(1);
        let Some(sender) = message.pop() else {
            return;
        };
        let conn = ZmqRouterConnection::from_core(core);
        with_zcx(cx, &conn, |zcx| self.0.got_message(zcx, sender, parts));
    }
}

struct RouterFn<F>(F);

impl<S: 'static, F, R> RouterProtocol<S> for RouterFn<F>
where
    F: FnMut(&mut ZmqCtx<'_, S, ZmqRouterConnection<S>>, Frame, Multipart) -> R + 'static,
    R: CallbackResult,
{
    fn got_message(
        &mut self,
        cx: &mut ZmqCtx<'_, S, ZmqRouterConnection<S>>,
        sender: Frame,
        parts: Multipart,
    ) {
        (self.0)(cx, sender, parts).report("got_message");
    }
}

impl<S: 'static> ZmqRouterConnection<S> {
    fn from_core(core: &Rc<Core<S>>) -> Self {
        ZmqRouterConnection {
            base: ZmqConnection { core: core.clone() },
        }
    }

    constructors!("A ROUTER", |factory, endpoints, options| {
        Ok(ZmqRouterConnection {
            base: ZmqConnection::with_options(factory, zmq::ROUTER, endpoints, options)?,
        })
    });

    /// Sends `parts` to the peer whose routing id is `recipient`: the frames
    /// `[recipient, parts...]` (txZMQ's `sendMsg` / `sendMultipart`).
    ///
    /// A ROUTER never queues in the outbox: without `router_mandatory`,
    /// libzmq drops a message to an unknown peer or to one at its high-water
    /// mark; with it, the send fails and the caller decides (a queue would
    /// hold every other peer's messages behind one slow peer).
    ///
    /// # Errors
    ///
    /// As for [`ZmqConnection::send`]; with `router_mandatory`, an unknown
    /// recipient is `Error::Socket` (EHOSTUNREACH) and one at its high-water
    /// mark `Error::Socket` (EAGAIN).
    pub fn send_msg(&self, recipient: &[u8], parts: impl IntoMultipart) -> Result<()> {
        let parts = parts.into_multipart();
        let mut message = Multipart::with_capacity(parts.len() + 1);
        message.push(recipient);
        message.extend(parts);
        self.base.core.send(message, "send")
    }

    /// Sets the protocol.
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown.
    pub fn set_protocol(&self, protocol: impl RouterProtocol<S>) -> Result<()> {
        self.base
            .core
            .set_handler(Box::new(RouterHandler(protocol)))
    }

    /// Sets a closure as `got_message(sender, parts)`.
    pub fn got_message<F, R>(&self, f: F)
    where
        F: FnMut(&mut ZmqCtx<'_, S, ZmqRouterConnection<S>>, Frame, Multipart) -> R + 'static,
        R: CallbackResult,
    {
        crate::warn_closed(self.set_protocol(RouterFn(f)));
    }
}

/// A protocol for a [`ZmqDealerConnection`] or [`ZmqPairConnection`].
pub trait DealerProtocol<S: 'static = ()>: 'static {
    /// The connection is ready.
    fn connection_made(&mut self, _cx: &mut ZmqCtx<'_, S, ZmqDealerConnection<S>>) {}
    /// A message arrived.
    fn got_message(&mut self, cx: &mut ZmqCtx<'_, S, ZmqDealerConnection<S>>, parts: Multipart);
    /// The connection was shut down.
    fn connection_lost(
        &mut self,
        _cx: &mut ZmqCtx<'_, S, ZmqDealerConnection<S>>,
        _lost: &ConnectionLost,
    ) {
    }
}

/// A raw DEALER connection (txZMQ's `ZmqDealerConnection`); also used for
/// PAIR (see [`ZmqPairConnection`]).
pub struct ZmqDealerConnection<S: 'static = ()> {
    base: ZmqConnection<S>,
}

connection_common!(ZmqDealerConnection {});

/// A PAIR connection: exclusive to one peer, with the DEALER connection's
/// API (`send_msg`, `got_message`, `set_protocol`), to which it derefs.
/// Protocols see it as a [`ZmqDealerConnection`].
pub struct ZmqPairConnection<S: 'static = ()> {
    base: ZmqDealerConnection<S>,
}

impl<S: 'static> Clone for ZmqPairConnection<S> {
    fn clone(&self) -> Self {
        ZmqPairConnection {
            base: self.base.clone(),
        }
    }
}

impl<S: 'static> std::fmt::Debug for ZmqPairConnection<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ZmqPairConnection({:?})", *self.base)
    }
}

impl<S: 'static> std::ops::Deref for ZmqPairConnection<S> {
    type Target = ZmqDealerConnection<S>;
    fn deref(&self) -> &Self::Target {
        &self.base
    }
}

impl<S: 'static> ZmqPairConnection<S> {
    constructors!("A PAIR", |factory, endpoints, options| {
        Ok(ZmqPairConnection {
            base: ZmqDealerConnection::pair(factory, endpoints, options)?,
        })
    });
}

struct DealerHandler<P>(P);

impl<S: 'static, P: DealerProtocol<S>> Handler<S> for DealerHandler<P> {
    made_and_lost!(|core, this| ZmqDealerConnection::from_core(core));
    fn message(&mut self, cx: &mut Ctx<'_, S>, core: &Rc<Core<S>>, message: Multipart) {
        let conn = ZmqDealerConnection::from_core(core);
        with_zcx(cx, &conn, |zcx| self.0.got_message(zcx, message));
    }
}

struct DealerFn<F>(F);

impl<S: 'static, F, R> DealerProtocol<S> for DealerFn<F>
where
    F: FnMut(&mut ZmqCtx<'_, S, ZmqDealerConnection<S>>, Multipart) -> R + 'static,
    R: CallbackResult,
{
    fn got_message(&mut self, cx: &mut ZmqCtx<'_, S, ZmqDealerConnection<S>>, parts: Multipart) {
        (self.0)(cx, parts).report("got_message");
    }
}

impl<S: 'static> ZmqDealerConnection<S> {
    fn from_core(core: &Rc<Core<S>>) -> Self {
        ZmqDealerConnection {
            base: ZmqConnection { core: core.clone() },
        }
    }

    constructors!("A DEALER", |factory, endpoints, options| {
        Ok(ZmqDealerConnection {
            base: ZmqConnection::with_options(factory, zmq::DEALER, endpoints, options)?,
        })
    });

    /// A PAIR socket with the DEALER connection's API; prefer
    /// [`ZmqPairConnection::new`].
    ///
    /// # Errors
    ///
    /// As for [`ZmqConnection::with_options`].
    pub fn pair(
        factory: &ZmqFactory<S>,
        endpoints: impl IntoEndpoints,
        options: &ZmqOptions,
    ) -> Result<Self> {
        Ok(ZmqDealerConnection {
            base: ZmqConnection::with_options(factory, zmq::PAIR, endpoints, options)?,
        })
    }

    /// Sends a message (txZMQ's `sendMsg` / `sendMultipart`).
    ///
    /// # Errors
    ///
    /// As for [`ZmqConnection::send`].
    pub fn send_msg(&self, parts: impl IntoMultipart) -> Result<()> {
        self.base.core.send_message(parts, "send")
    }

    /// Sets the protocol.
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown.
    pub fn set_protocol(&self, protocol: impl DealerProtocol<S>) -> Result<()> {
        self.base
            .core
            .set_handler(Box::new(DealerHandler(protocol)))
    }

    /// Sets a closure as `got_message(parts)`.
    pub fn got_message<F, R>(&self, f: F)
    where
        F: FnMut(&mut ZmqCtx<'_, S, ZmqDealerConnection<S>>, Multipart) -> R + 'static,
        R: CallbackResult,
    {
        crate::warn_closed(self.set_protocol(DealerFn(f)));
    }
}
