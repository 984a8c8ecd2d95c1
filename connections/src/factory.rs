//! [`ZmqFactory`]: the ZeroMQ context and the connections made from it.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use slab::Slab;
use tx0mq_reactor::{Ctx, Phase, Reactor, SystemEvent, TriggerId, WeakReactor};

use crate::context::{ZmqContext, ZmqSocket};
use crate::core::{Core, LostReason};
use crate::error::{Error, Result};
use crate::stats::FactoryStats;

/// txZMQ's default linger: how long closing a socket waits for queued messages.
pub const DEFAULT_LINGER: Duration = Duration::from_millis(100);

pub(crate) struct FactoryInner<S: 'static> {
    context: RefCell<Option<ZmqContext>>,
    pub(crate) reactor: WeakReactor<S>,
    /// Open connections; the factory keeps them alive until shutdown, as txZMQ does.
    connections: RefCell<Slab<Rc<Core<S>>>>,
    linger: Cell<Duration>,
    trigger: Cell<Option<TriggerId>>,
    /// What the connections shut down so far counted before they closed.
    closed: Cell<FactoryStats>,
}

/// Owns the ZeroMQ context and keeps track of the connections made from it
/// (txZMQ's `ZmqFactory`).
///
/// Cloning gives another handle to the same factory. The reactor keeps the
/// factory (and so its connections) alive until the reactor is dropped;
/// [`shutdown`](Self::shutdown) closes the connections sooner.
///
/// ```
/// use tx0mq_connections::ZmqFactory;
/// use tx0mq_reactor::Reactor;
///
/// let reactor = Reactor::new()?;
/// let factory = ZmqFactory::new(&reactor)?;
/// factory.register_for_shutdown(); // shut down with the reactor
/// factory.shutdown();
/// factory.shutdown(); // safe twice
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ZmqFactory<S: 'static = ()> {
    pub(crate) inner: Rc<FactoryInner<S>>,
}

impl<S: 'static> Clone for ZmqFactory<S> {
    fn clone(&self) -> Self {
        ZmqFactory {
            inner: self.inner.clone(),
        }
    }
}

impl<S: 'static> fmt::Debug for ZmqFactory<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ZmqFactory")
            .field("connections", &self.connection_count())
            .field("shut_down", &self.is_shut_down())
            .finish()
    }
}

impl<S: 'static> ZmqFactory<S> {
    /// A factory with one I/O thread (txZMQ's default).
    ///
    /// # Errors
    ///
    /// As for [`with_io_threads`](Self::with_io_threads).
    pub fn new(reactor: &Reactor<S>) -> Result<Self> {
        Self::with_io_threads(reactor, 1)
    }

    /// A factory whose context has `io_threads` I/O threads.
    ///
    /// # Errors
    ///
    /// [`Error::ContextOption`] if libzmq refuses the thread count.
    pub fn with_io_threads(reactor: &Reactor<S>, io_threads: i32) -> Result<Self> {
        let context = ZmqContext::builder().io_threads(io_threads).build()?;
        Ok(Self::with_context(reactor, context))
    }

    /// A factory whose connections live in `context`: one built with other
    /// limits ([`ZmqContext::builder`]: more sockets, more I/O threads), or
    /// one shared with factories on other reactor threads so that their
    /// connections talk over `inproc://`. A `zmq::Context` from the `zmq`
    /// crate converts with `.into()`.
    ///
    /// [`shutdown`](Self::shutdown) closes this factory's connections and
    /// lets go of its handle; the context itself ends when its last handle
    /// and socket are gone.
    ///
    /// ```
    /// use tx0mq_connections::{ZmqContext, ZmqFactory};
    /// use tx0mq_reactor::Reactor;
    ///
    /// let context = ZmqContext::builder().max_sockets(5_000).io_threads(2).build()?;
    /// let reactor = Reactor::new()?;
    /// let factory = ZmqFactory::with_context(&reactor, context.clone());
    /// assert_eq!(factory.context()?.max_sockets(), Some(5_000));
    /// // Another reactor (on another thread, usually) shares the context.
    /// let other = Reactor::new()?;
    /// let _sibling = ZmqFactory::with_context(&other, context);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_context(reactor: &Reactor<S>, context: impl Into<ZmqContext>) -> Self {
        let inner = Rc::new(FactoryInner {
            context: RefCell::new(Some(context.into())),
            reactor: reactor.downgrade(),
            connections: RefCell::new(Slab::new()),
            linger: Cell::new(DEFAULT_LINGER),
            trigger: Cell::new(None),
            closed: Cell::new(FactoryStats::default()),
        });
        // Like txZMQ's factory, it lives as long as the reactor: dropping
        // the last handle must not close the connections made from it.
        reactor.keep_alive(inner.clone());
        ZmqFactory { inner }
    }

    /// The reactor this factory's connections run on (txZMQ's factory
    /// holds `reactor` as an attribute); `None` once that reactor is gone.
    ///
    /// ```
    /// use tx0mq_connections::ZmqFactory;
    /// use tx0mq_reactor::Reactor;
    ///
    /// let reactor = Reactor::new()?;
    /// let factory = ZmqFactory::new(&reactor)?;
    /// let again = factory.reactor().expect("the reactor is alive");
    /// again.call_later(std::time::Duration::ZERO, |cx| cx.reactor.stop());
    /// reactor.run()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reactor(&self) -> Option<Reactor<S>> {
        self.inner.reactor.upgrade()
    }

    /// The ZeroMQ context, for sockets used outside the reactor (a worker
    /// thread's blocking socket talking to us over `inproc://`, say).
    ///
    /// # Errors
    ///
    /// [`Error::Closed`] after [`shutdown`](Self::shutdown).
    pub fn context(&self) -> Result<ZmqContext> {
        self.inner.context.borrow().clone().ok_or(Error::Closed {
            operation: "get the context",
            connection: "the factory".to_string(),
        })
    }

    /// The linger new connections get unless their options say otherwise
    /// (txZMQ's `lingerPeriod`, default [`DEFAULT_LINGER`]).
    pub fn linger(&self) -> Duration {
        self.inner.linger.get()
    }

    /// Sets the default linger for connections created from now on.
    pub fn set_linger(&self, linger: Duration) {
        self.inner.linger.set(linger);
    }

    /// How many connections are open.
    pub fn connection_count(&self) -> usize {
        self.inner.connections.borrow().len()
    }

    /// True after [`shutdown`](Self::shutdown).
    pub fn is_shut_down(&self) -> bool {
        self.inner.context.borrow().is_none()
    }

    /// Shuts the factory down when the reactor shuts down (a "during
    /// shutdown" trigger, as txZMQ's `registerForShutdown`). Calling it again
    /// does nothing.
    pub fn register_for_shutdown(&self) {
        if self.inner.trigger.get().is_some() {
            return;
        }
        let Some(reactor) = self.inner.reactor.upgrade() else {
            return;
        };
        let weak = Rc::downgrade(&self.inner);
        let id =
            reactor.add_system_event_trigger(Phase::During, SystemEvent::Shutdown, move |cx| {
                if let Some(inner) = weak.upgrade() {
                    inner.trigger.set(None);
                    ZmqFactory { inner }.shutdown_in(Some(cx), LostReason::ReactorShutdown);
                }
            });
        self.inner.trigger.set(Some(id));
    }

    /// Shuts down every connection, then releases its handle on the context. Safe to call
    /// twice, and together with [`register_for_shutdown`](Self::register_for_shutdown).
    ///
    /// The context lives on while other sockets hold it, and a thread
    /// blocked on one of them stays blocked. txZMQ's `shutdown` terminates
    /// the context, which wakes such threads; here, call
    /// [`ZmqContext::shutdown`](crate::ZmqContext::shutdown) on
    /// [`context`](Self::context) before this.
    pub fn shutdown(&self) {
        self.shutdown_in(None, LostReason::FactoryShutdown);
    }

    fn shutdown_in(&self, mut cx: Option<&mut Ctx<'_, S>>, reason: LostReason) {
        let connections: Vec<Rc<Core<S>>> = self
            .inner
            .connections
            .borrow()
            .iter()
            .map(|(_, c)| c.clone())
            .collect();
        for core in connections {
            core.shutdown_in(cx.as_deref_mut(), reason);
        }
        if let Some(id) = self.inner.trigger.take() {
            if let Some(reactor) = self.inner.reactor.upgrade() {
                reactor.remove_system_event_trigger(id);
            }
        }
        // Sockets hold the context too; it terminates (after linger) when the
        // last of them closes, so dropping ours never blocks on user sockets.
        let context = self.inner.context.borrow_mut().take();
        drop(context);
    }

    pub(crate) fn register(&self, core: &Rc<Core<S>>) -> usize {
        self.inner.connections.borrow_mut().insert(core.clone())
    }
}

impl<S: 'static> FactoryInner<S> {
    pub(crate) fn socket(&self, kind: zmq::SocketType) -> Result<ZmqSocket> {
        let context = self.context.borrow();
        let Some(context) = context.as_ref() else {
            return Err(Error::Closed {
                operation: "create a connection",
                connection: "the factory".to_string(),
            });
        };
        context.create(kind)
    }

    pub(crate) fn linger(&self) -> Duration {
        self.linger.get()
    }

    /// Forgets a connection that shut down, keeping its counts.
    pub(crate) fn unregister(&self, key: usize) {
        let removed = self.connections.borrow_mut().try_remove(key);
        if let Some(core) = &removed {
            let mut closed = self.closed.get();
            let stats = core.stats();
            closed.add(&crate::stats::ConnectionStats {
                paused: false,
                ..stats
            });
            closed.closed += 1;
            self.closed.set(closed);
        }
        drop(removed); // outside the borrow
    }

    /// The closed connections' counts plus the open ones'.
    pub(crate) fn stats(&self) -> FactoryStats {
        let mut stats = self.closed.get();
        for (_, core) in self.connections.borrow().iter() {
            stats.add(&core.stats());
            stats.open += 1;
        }
        stats
    }
}
