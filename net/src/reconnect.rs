//! [`ReconnectingClientFactory`]: a client factory that connects again, with
//! exponential backoff, whenever its connection fails or is lost (Twisted's
//! `ReconnectingClientFactory`).

use std::cell::RefCell;
use std::fmt;
use std::net::SocketAddr;
use std::rc::{Rc, Weak};
use std::time::Duration;

use tx0mq_reactor::{Ctx, DelayedCall};

use crate::error::Reason;
use crate::protocol::ClientFactory;
use crate::rng::Rng;
use crate::tcp::{Connector, WeakConnector};

/// The delay before the first retry is this times [`DEFAULT_FACTOR`]
/// (Twisted's `initialDelay`).
pub const DEFAULT_INITIAL_DELAY: Duration = Duration::from_secs(1);
/// How much the delay grows per failed attempt (Twisted's `factor`, e).
pub const DEFAULT_FACTOR: f64 = std::f64::consts::E;
/// The standard deviation of each delay, as a fraction of it (Twisted's
/// `jitter`), so that many clients do not retry in step.
pub const DEFAULT_JITTER: f64 = 0.119626565582;
/// The longest delay (Twisted's `maxDelay`, an hour).
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(3600);

struct BackoffState<S: 'static> {
    initial_delay: f64,
    factor: f64,
    jitter: f64,
    max_delay: f64,
    max_retries: Option<u32>,
    reset_on_connect: bool,
    /// The current delay, in seconds.
    delay: f64,
    retries: u32,
    continue_trying: bool,
    /// The scheduled retry.
    call: Option<DelayedCall>,
    /// The connector last seen, for `stop_trying` to stop.
    connector: Option<WeakConnector<S>>,
    rng: Rng,
}

/// The backoff of a [`ReconnectingClientFactory`]: a handle to its delay
/// and retry count, to reset it or stop trying from anywhere (a protocol,
/// a timer, `main`). Cloning shares it.
pub struct Backoff<S: 'static = ()> {
    state: Rc<RefCell<BackoffState<S>>>,
}

impl<S: 'static> Clone for Backoff<S> {
    fn clone(&self) -> Self {
        Backoff {
            state: self.state.clone(),
        }
    }
}

impl<S: 'static> fmt::Debug for Backoff<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state.borrow();
        f.debug_struct("Backoff")
            .field("delay", &st.delay)
            .field("retries", &st.retries)
            .field("continue_trying", &st.continue_trying)
            .finish()
    }
}

impl<S: 'static> Backoff<S> {
    /// Back to the initial delay and no retries (Twisted's `resetDelay`);
    /// also undoes [`stop_trying`](Self::stop_trying). A retry already
    /// scheduled is kept.
    pub fn reset_delay(&self) {
        let mut st = self.state.borrow_mut();
        st.delay = st.initial_delay;
        st.retries = 0;
        st.continue_trying = true;
        st.call = None;
    }

    /// Stops reconnecting (Twisted's `stopTrying`): cancels a scheduled
    /// retry and an attempt under way (its factory hears
    /// `client_connection_failed(Reason::Cancelled)`). A connection that is
    /// up stays up; when it is lost, nothing reconnects.
    pub fn stop_trying(&self) {
        let (call, connector) = {
            let mut st = self.state.borrow_mut();
            st.continue_trying = false;
            (
                st.call.take(),
                st.connector.as_ref().and_then(WeakConnector::upgrade),
            )
        };
        if let Some(call) = call {
            let _ = call.cancel();
        }
        if let Some(connector) = connector {
            // Not connecting is fine: there is nothing to stop.
            let _ = connector.stop_connecting();
        }
    }

    /// The current delay: the last one scheduled, or the initial one.
    pub fn delay(&self) -> Duration {
        secs(self.state.borrow().delay)
    }

    /// Failed attempts since the last reset.
    pub fn retries(&self) -> u32 {
        self.state.borrow().retries
    }

    /// Whether it will reconnect (false after `stop_trying`).
    pub fn is_trying(&self) -> bool {
        self.state.borrow().continue_trying
    }

    /// Whether a retry is scheduled.
    pub fn is_waiting(&self) -> bool {
        self.state
            .borrow()
            .call
            .as_ref()
            .is_some_and(DelayedCall::active)
    }

    /// Schedules `connector.connect()` after the next delay (Twisted's
    /// `retry`), unless it stopped trying or ran out of retries.
    fn retry(&self, cx: &mut Ctx<'_, S>, connector: &Connector<S>) {
        let delay = {
            let mut st = self.state.borrow_mut();
            if !st.continue_trying {
                log::info!("Abandoning {connector:?} on explicit request");
                return;
            }
            st.retries = st.retries.saturating_add(1);
            if st.max_retries.is_some_and(|max| st.retries > max) {
                log::info!("Abandoning {connector:?} after {} retries.", st.retries);
                return;
            }
            st.delay = (st.delay * st.factor).min(st.max_delay);
            if st.jitter != 0.0 {
                let (mean, sd) = (st.delay, st.delay * st.jitter);
                st.delay = st.rng.normal(mean, sd);
            }
            if !st.delay.is_finite() || st.delay < 0.0 {
                st.delay = 0.0;
            }
            log::info!("{connector:?} will retry in {:.0} seconds", st.delay);
            secs(st.delay)
        };
        let again = connector.clone();
        let state: Weak<RefCell<BackoffState<S>>> = Rc::downgrade(&self.state);
        let call = cx.reactor.call_later(delay, move |_| {
            if let Some(state) = state.upgrade() {
                state.borrow_mut().call = None;
            }
            if let Err(e) = again.connect() {
                log::warn!("{again:?}: not retried: {e}");
            }
        });
        let old = self.state.borrow_mut().call.replace(call);
        drop(old);
    }

    fn remember(&self, connector: &Connector<S>) {
        self.state.borrow_mut().connector = Some(connector.downgrade());
        connector.set_backoff(WeakBackoff(Rc::downgrade(&self.state)));
    }
}

/// A [`Backoff`] that does not keep it alive: what a connector holds of the
/// reconnecting factory that uses it.
pub(crate) struct WeakBackoff<S: 'static>(Weak<RefCell<BackoffState<S>>>);

impl<S: 'static> Clone for WeakBackoff<S> {
    fn clone(&self) -> Self {
        WeakBackoff(self.0.clone())
    }
}

impl<S: 'static> WeakBackoff<S> {
    /// The reactor shuts down: no more retries (as `stop_trying`, but the
    /// connector is left to the shutdown, which cancels its attempt now).
    pub(crate) fn reactor_shutdown(&self) {
        let Some(state) = self.0.upgrade() else {
            return;
        };
        let call = {
            let mut st = state.borrow_mut();
            st.continue_trying = false;
            st.call.take()
        };
        if let Some(call) = call {
            let _ = call.cancel();
        }
    }
}

/// Seconds as a `Duration`, saturating (the delay never exceeds an hour
/// unless configured to).
fn secs(seconds: f64) -> Duration {
    Duration::try_from_secs_f64(seconds).unwrap_or(if seconds > 0.0 {
        Duration::MAX
    } else {
        Duration::ZERO
    })
}

/// A client factory that reconnects with exponential backoff when the
/// connection fails or is lost (Twisted's `ReconnectingClientFactory`); it
/// wraps the factory that builds the protocols, `F`, which hears every
/// event first.
///
/// After each failed attempt the delay is multiplied by the factor (up to
/// the maximum) and then drawn from a normal distribution around that value
/// with the jitter as its relative spread, exactly as Twisted computes it:
/// with the defaults, about 2.7 s, then 7.4 s, 20 s, ... up to an hour.
/// After `max_retries` consecutive failures it gives up.
///
/// Twisted leaves the reset to the protocol (`resetDelay` in
/// `buildProtocol`, by convention); here the delay is reset when a
/// connection is made, unless [`reset_on_connect(false)`](Self::reset_on_connect)
/// (then call [`Backoff::reset_delay`] yourself).
///
/// The reactor's shutdown stops it as [`Backoff::stop_trying`] does: a retry
/// waiting is cancelled, and the loss of the connection the shutdown closes
/// is not retried. [`Backoff::reset_delay`] makes it try again after the
/// next failure, on a later `run`.
///
/// ```no_run
/// use tx0mq_net::{NetCtx, Protocol, ReactorNet, ReconnectingClientFactory};
/// use tx0mq_reactor::Reactor;
///
/// struct Printer;
/// impl Protocol for Printer {
///     fn data_received(&mut self, _cx: &mut NetCtx<'_>, data: &[u8]) {
///         println!("{}", String::from_utf8_lossy(data));
///     }
/// }
///
/// let reactor = Reactor::new()?;
/// let factory = ReconnectingClientFactory::new(|_addr| Printer)
///     .max_delay(std::time::Duration::from_secs(30));
/// let backoff = factory.backoff(); // backoff.stop_trying() later
/// reactor.connect_tcp("localhost", 8000, factory);
/// reactor.run()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ReconnectingClientFactory<F, S: 'static = ()> {
    inner: F,
    backoff: Backoff<S>,
}

impl<F, S: 'static> fmt::Debug for ReconnectingClientFactory<F, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReconnectingClientFactory")
            .field("backoff", &self.backoff)
            .finish()
    }
}

impl<F: ClientFactory<S>, S: 'static> ReconnectingClientFactory<F, S> {
    /// Wraps `inner`, with Twisted's defaults: initial delay 1 s, factor e,
    /// jitter 0.1196, maximum delay an hour, no limit on retries.
    pub fn new(inner: F) -> Self {
        ReconnectingClientFactory {
            inner,
            backoff: Backoff {
                state: Rc::new(RefCell::new(BackoffState {
                    initial_delay: DEFAULT_INITIAL_DELAY.as_secs_f64(),
                    factor: DEFAULT_FACTOR,
                    jitter: DEFAULT_JITTER,
                    max_delay: DEFAULT_MAX_DELAY.as_secs_f64(),
                    max_retries: None,
                    reset_on_connect: true,
                    delay: DEFAULT_INITIAL_DELAY.as_secs_f64(),
                    retries: 0,
                    continue_trying: true,
                    call: None,
                    connector: None,
                    rng: Rng::from_entropy(),
                })),
            },
        }
    }

    /// The initial delay (Twisted's `initialDelay`); the current delay is
    /// reset to it.
    pub fn initial_delay(self, delay: Duration) -> Self {
        {
            let mut st = self.backoff.state.borrow_mut();
            st.initial_delay = delay.as_secs_f64();
            st.delay = st.initial_delay;
        }
        self
    }

    /// The growth factor (Twisted's `factor`).
    pub fn factor(self, factor: f64) -> Self {
        self.backoff.state.borrow_mut().factor = factor;
        self
    }

    /// The relative spread of each delay (Twisted's `jitter`); 0 makes the
    /// delays exact.
    pub fn jitter(self, jitter: f64) -> Self {
        self.backoff.state.borrow_mut().jitter = jitter;
        self
    }

    /// The longest delay (Twisted's `maxDelay`).
    pub fn max_delay(self, delay: Duration) -> Self {
        self.backoff.state.borrow_mut().max_delay = delay.as_secs_f64();
        self
    }

    /// How many consecutive failures to retry after (Twisted's
    /// `maxRetries`); `None`, the default, retries forever.
    pub fn max_retries(self, retries: Option<u32>) -> Self {
        self.backoff.state.borrow_mut().max_retries = retries;
        self
    }

    /// Whether a connection being made resets the delay (default true).
    pub fn reset_on_connect(self, on: bool) -> Self {
        self.backoff.state.borrow_mut().reset_on_connect = on;
        self
    }

    /// Seeds the jitter's random numbers (for reproducible tests).
    pub fn seed(self, seed: u64) -> Self {
        self.backoff.state.borrow_mut().rng = Rng::seeded(seed);
        self
    }

    /// A handle to the backoff: take it before the factory is handed to
    /// `connect_tcp`, to reset or stop it later.
    pub fn backoff(&self) -> Backoff<S> {
        self.backoff.clone()
    }

    /// [`Backoff::reset_delay`] (Twisted's `resetDelay`).
    pub fn reset_delay(&self) {
        self.backoff.reset_delay();
    }

    /// [`Backoff::stop_trying`] (Twisted's `stopTrying`).
    pub fn stop_trying(&self) {
        self.backoff.stop_trying();
    }

    /// The wrapped factory.
    pub fn inner(&self) -> &F {
        &self.inner
    }
}

impl<F: ClientFactory<S>, S: 'static> ClientFactory<S> for ReconnectingClientFactory<F, S> {
    type Protocol = F::Protocol;

    fn build_protocol(&mut self, addr: SocketAddr) -> F::Protocol {
        let reset = self.backoff.state.borrow().reset_on_connect;
        if reset {
            self.backoff.reset_delay();
        }
        self.inner.build_protocol(addr)
    }

    fn start_factory(&mut self) {
        self.inner.start_factory();
    }

    fn stop_factory(&mut self) {
        self.inner.stop_factory();
    }

    fn started_connecting(&mut self, connector: &Connector<S>) {
        self.backoff.remember(connector);
        self.inner.started_connecting(connector);
    }

    fn client_connection_failed(
        &mut self,
        cx: &mut Ctx<'_, S>,
        connector: &Connector<S>,
        reason: &Reason,
    ) {
        self.inner.client_connection_failed(cx, connector, reason);
        if self.backoff.is_trying() {
            self.backoff.remember(connector);
            self.backoff.retry(cx, connector);
        }
    }

    fn client_connection_lost(
        &mut self,
        cx: &mut Ctx<'_, S>,
        connector: &Connector<S>,
        reason: &Reason,
    ) {
        self.inner.client_connection_lost(cx, connector, reason);
        if self.backoff.is_trying() {
            self.backoff.remember(connector);
            self.backoff.retry(cx, connector);
        }
    }
}
