//! Pulling events with `.await`: [`Connection::messages`] and
//! [`MessageStream`].
//!
//! For code that prefers pulling to callbacks: `stream.next().await` yields
//! the connection's next event (what its protocol would hear: a PULL
//! connection's messages, a SUB connection's `(message, tag)`, ...), `None`
//! once the connection is gone.
//!
//! ```
//! use tx0mq_connections::{ZmqEndpoint, ZmqFactory, ZmqPullConnection, ZmqPushConnection};
//! use tx0mq_reactor::{Failure, Reactor};
//!
//! let reactor = Reactor::builder().handle_signals(false).build()?;
//! let factory = ZmqFactory::new(&reactor)?;
//! let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind("inproc://doc-stream"))?;
//! let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect("inproc://doc-stream"))?;
//! let mut messages = pull.messages()?;
//! let r = reactor.clone();
//! let words = reactor.spawn(async move {
//!     let mut words = Vec::new();
//!     while let Some(message) = messages.next().await {
//!         words.push(String::from_utf8_lossy(&message[0]).into_owned());
//!         if words.len() == 3 {
//!             break;
//!         }
//!     }
//!     r.stop()?;
//!     Ok::<_, Failure>(words)
//! });
//! for word in ["a", "b", "c"] {
//!     push.push(word)?;
//! }
//! reactor.run()?;
//! # words.add_callback(|w| { assert_eq!(w, ["a", "b", "c"]); Ok(w) });
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # How it fits the edge-triggered socket
//!
//! The stream is a protocol like any other: [`Connection::messages`]
//! installs a handler that the connection's ordinary receive path calls, in
//! batches, from the reactor (the edge-trigger invariants of
//! `docs/ARCHITECTURE.md` hold unchanged: the stream never touches the
//! socket). The handler appends each message to a bounded queue
//! and wakes the task waiting in `next()`. When the queue reaches its
//! capacity the handler pauses reading ([`Connection::pause_reading`]),
//! so further messages wait in libzmq, where the high-water mark applies;
//! once the consumer has taken the queue down to half its capacity the
//! stream resumes reading, which wakes the connection's source so the
//! reactor re-reads `ZMQ_EVENTS` before it next blocks.
//!
//! # What it yields
//!
//! The stream is the connection's protocol, so it yields the pattern's
//! events and the pattern's own handling stays underneath: a ROUTER
//! stream yields `(sender, parts)`, a REP stream `(message_id, parts)` whose
//! routes [`reply`](crate::ZmqRepConnection::reply) still finds. A REQ
//! connection's replies go to their Deferreds, so its stream yields nothing:
//! await `send_msg` instead.
//!
//! # End of the stream
//!
//! `next()` yields `None` once the connection was shut down (by you, its
//! factory, or the reactor's shutdown) and every message received before
//! that has been taken; [`MessageStream::lost`] then says why. Setting
//! another protocol on the connection also ends the stream (the new
//! protocol gets the messages from then on, with reading resumed if the
//! stream had paused it). Dropping the stream gives the connection back:
//! its protocol is removed, so nothing more is read until another protocol
//! is set (messages wait in libzmq, where the high-water mark applies), and
//! the events it had buffered are dropped with it.
//!
//! # With the futures ecosystem
//!
//! A `MessageStream` is a [`futures_core::Stream`] (and a
//! [`FusedStream`]: once it yielded `None`, it always does), so the
//! combinators of `futures`' `StreamExt` (`next`, `take`, `filter`,
//! `collect`, `for_each`, `select` over two streams...) work on it, in a
//! task run by the reactor's [`spawn`](tx0mq_reactor::Reactor::spawn):
//!
//! ```
//! use futures_util::StreamExt; // `futures::StreamExt` re-exports it
//! use tx0mq_connections::{ZmqEndpoint, ZmqFactory, ZmqPullConnection, ZmqPushConnection};
//! use tx0mq_reactor::{Failure, Reactor};
//!
//! let reactor = Reactor::builder().handle_signals(false).build()?;
//! let factory = ZmqFactory::new(&reactor)?;
//! let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind("inproc://doc-stream-ext"))?;
//! let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect("inproc://doc-stream-ext"))?;
//! for word in ["a", "bb", "ccc", "dddd"] {
//!     push.push(word)?;
//! }
//! let messages = pull.messages()?;
//! let lengths = reactor.run_until_complete(async move {
//!     let lengths: Vec<usize> = messages.map(|m| m[0].len()).take(3).collect().await;
//!     Ok::<_, Failure>(lengths)
//! })??;
//! assert_eq!(lengths, [1, 2, 3]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The inherent [`next`](MessageStream::next) and
//! [`poll_next`](MessageStream::poll_next) are the same operations, for
//! code that does not import the trait.
//!
//! # Waiting with a timeout
//!
//! [`next_timeout`](MessageStream::next_timeout) is the zguide's
//! `poller.poll(timeout)` for one socket (asyncio's
//! `await asyncio.wait_for(sock.recv_multipart(), t)`): the next event,
//! `None` at the end, or [`Elapsed`] when nothing came in time. The time is
//! kept by a reactor timer, cancelled as soon as an event comes first.
//!
//! ```
//! use std::time::Duration;
//! use tx0mq_connections::{ZmqEndpoint, ZmqFactory, ZmqPullConnection};
//! use tx0mq_reactor::{Failure, Reactor};
//!
//! let reactor = Reactor::builder().handle_signals(false).build()?;
//! let factory = ZmqFactory::new(&reactor)?;
//! let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind("inproc://doc-poll"))?;
//! let mut messages = pull.messages()?;
//! let heard = reactor.run_until_complete(async move {
//!     match messages.next_timeout(Duration::from_millis(20)).await {
//!         Ok(Some(_message)) => Ok("a message"),
//!         Ok(None) => Ok("the end"),
//!         Err(_elapsed) => Ok::<_, Failure>("nothing for 20 ms"),
//!     }
//! })??;
//! assert_eq!(heard, "nothing for 20 ms");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_core::{FusedStream, Stream};
use tx0mq_reactor::deferred::sleep;

use crate::connection::{Connection, Listener, ZmqCtx};
use crate::core::{ConnectionLost, Core};
use crate::error::Result;
use crate::pattern::{Pattern, Raw};

/// How many events a [`MessageStream`] buffers before it pauses reading,
/// unless [`Connection::messages_with_capacity`] says otherwise.
pub const DEFAULT_STREAM_CAPACITY: usize = 1024;

/// What the stream and its protocol share.
struct Shared<E> {
    queue: RefCell<VecDeque<E>>,
    capacity: usize,
    waker: RefCell<Option<Waker>>,
    /// The protocol is gone (connection lost, or another protocol set).
    ended: Cell<bool>,
    lost: RefCell<Option<ConnectionLost>>,
    /// Reading was paused by the stream (not by the user).
    paused: Cell<bool>,
}

impl<E> Shared<E> {
    fn wake(&self) {
        let waker = self.waker.borrow_mut().take();
        if let Some(waker) = waker {
            waker.wake(); // outside the borrow
        }
    }

    fn end(&self) {
        self.ended.set(true);
        self.wake();
    }
}

/// The protocol a stream installs: buffer, pause when full, wake the reader.
struct StreamProtocol<K: Pattern, S: 'static> {
    shared: Rc<Shared<K::Event>>,
    core: Weak<Core<S>>,
}

impl<K: Pattern, S: 'static> Listener<K, S> for StreamProtocol<K, S> {
    fn received(&mut self, cx: &mut ZmqCtx<'_, S, Connection<K, S>>, event: K::Event) {
        let full = {
            let mut queue = self.shared.queue.borrow_mut();
            queue.push_back(event);
            queue.len() >= self.shared.capacity
        };
        if full && !self.shared.paused.get() {
            // The receive loop sees this and stops its batch at once.
            self.shared.paused.set(true);
            cx.conn.pause_reading();
        }
        self.shared.wake();
    }

    fn lost(&mut self, _cx: &mut ZmqCtx<'_, S, Connection<K, S>>, lost: &ConnectionLost) {
        *self.shared.lost.borrow_mut() = Some(lost.clone());
        self.shared.end();
    }
}

impl<K: Pattern, S: 'static> Drop for StreamProtocol<K, S> {
    /// Replaced by another protocol (or lost): the stream ends, and the new
    /// protocol does not inherit the stream's pause.
    fn drop(&mut self) {
        if self.shared.paused.replace(false) {
            if let Some(core) = self.core.upgrade() {
                core.resume();
            }
        }
        self.shared.end();
    }
}

/// The events of a connection, to be pulled with [`next`](Self::next)
/// (see the [module docs](self)).
pub struct MessageStream<S: 'static = (), K: Pattern = Raw> {
    shared: Rc<Shared<K::Event>>,
    conn: Connection<K, S>,
    /// The serial of the protocol the stream installed.
    serial: u64,
}

impl<S: 'static, K: Pattern> Drop for MessageStream<S, K> {
    /// Gives the connection back: if the stream's protocol is still the
    /// connection's, it is removed, so nothing more is read until another
    /// protocol is set (messages wait in libzmq for it) instead of filling
    /// a buffer nobody will read. Events buffered and not taken are dropped.
    fn drop(&mut self) {
        if !self.shared.ended.get() && self.conn.core.remove_handler(self.serial) {
            let left = self.shared.queue.borrow().len();
            if left > 0 {
                log::debug!(
                    "{:?}: a dropped stream discarded {left} buffered event(s)",
                    self.conn
                );
            }
        }
    }
}

/// The stream is never pinned in place: nothing in it refers to itself.
impl<S: 'static, K: Pattern> Unpin for MessageStream<S, K> {}

/// The stream as a [`futures_core::Stream`]: the same events as
/// [`MessageStream::next`] (see the [module docs](self)).
impl<S: 'static, K: Pattern> Stream for MessageStream<S, K> {
    type Item = K::Event;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<K::Event>> {
        MessageStream::poll_next(self.get_mut(), cx)
    }

    /// The buffered events at least; exactly those once the stream ended.
    fn size_hint(&self) -> (usize, Option<usize>) {
        let buffered = self.len();
        (buffered, self.is_ended().then_some(buffered))
    }
}

/// Once the stream yielded `None` it always does.
impl<S: 'static, K: Pattern> FusedStream for MessageStream<S, K> {
    fn is_terminated(&self) -> bool {
        self.is_ended() && self.is_empty()
    }
}

/// What [`MessageStream::next_timeout`] returns when no event came in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Elapsed {
    /// How long it waited.
    pub timeout: Duration,
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no message within {:?}", self.timeout)
    }
}

impl std::error::Error for Elapsed {}

impl<S: 'static, K: Pattern> fmt::Debug for MessageStream<S, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageStream")
            .field("connection", &self.conn)
            .field("buffered", &self.len())
            .field("ended", &self.shared.ended.get())
            .finish()
    }
}

impl<S: 'static, K: Pattern> MessageStream<S, K> {
    /// The next event, or `None` once the connection is gone and the
    /// buffered events have all been taken.
    ///
    /// Cancel-safe: dropping the returned future loses no event.
    pub async fn next(&mut self) -> Option<K::Event> {
        std::future::poll_fn(|cx| self.poll_next(cx)).await
    }

    /// The poll behind [`next`](Self::next), for hand-written futures.
    pub fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<K::Event>> {
        let event = self.shared.queue.borrow_mut().pop_front();
        if let Some(event) = event {
            self.resume_if_drained();
            return Poll::Ready(Some(event));
        }
        if self.shared.ended.get() {
            return Poll::Ready(None);
        }
        let old = {
            let mut waker = self.shared.waker.borrow_mut();
            match waker.as_ref() {
                Some(w) if w.will_wake(cx.waker()) => None,
                _ => waker.replace(cx.waker().clone()),
            }
        };
        drop(old);
        Poll::Pending
    }

    /// The next event, waiting at most `timeout` for it: the zguide's
    /// `poller.poll(timeout)` on one socket, asyncio's
    /// `await asyncio.wait_for(sock.recv_multipart(), timeout)`.
    ///
    /// - `Ok(Some(event))`: an event, at once if one is buffered (no timer
    ///   is set then);
    /// - `Ok(None)`: the end of the stream, as [`next`](Self::next) says it
    ///   (also when the reactor is gone: no event can come any more);
    /// - `Err(Elapsed)`: nothing came within `timeout`. The stream is
    ///   unchanged: call again, or `next()`, to go on waiting.
    ///
    /// The timeout is a reactor timer ([`sleep`]), so it follows the
    /// reactor's clock (a fake clock in tests) and needs no thread; it is
    /// cancelled when an event comes first or the future is dropped.
    /// Cancel-safe, as `next()`: dropping the future loses no event. `?`
    /// turns an `Elapsed` into a [`Failure`](tx0mq_reactor::Failure) (it is
    /// a `std::error::Error`).
    ///
    /// ```
    /// use std::time::Duration;
    /// use tx0mq_connections::ZmqPullConnection;
    /// use tx0mq_reactor::{Failure, Reactor};
    ///
    /// let reactor = Reactor::builder().fake_clock().handle_signals(false).build()?;
    /// let (pull, peer) = ZmqPullConnection::fake(&reactor)?;
    /// let mut messages = pull.messages()?;
    /// let task = reactor.spawn(async move {
    ///     let first = messages.next_timeout(Duration::from_secs(5)).await;
    ///     let second = messages.next_timeout(Duration::from_secs(5)).await;
    ///     Ok::<_, Failure>((first.map(|m| m.is_some()), second.is_err()))
    /// });
    /// reactor.advance(Duration::from_secs(4))?;
    /// peer.deliver(b"in time")?; // the first wait ends with it...
    /// reactor.iterate(Duration::ZERO)?; // ...when the task runs, and the second begins
    /// reactor.advance(Duration::from_secs(5))?; // the second times out
    /// assert!(task.called());
    /// # task.add_callback(|r| { assert_eq!(r, (Ok(true), true)); Ok(r) });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn next_timeout(&mut self, timeout: Duration) -> Result<Option<K::Event>, Elapsed> {
        if let Some(event) = self.try_next() {
            return Ok(Some(event));
        }
        if self.shared.ended.get() {
            return Ok(None);
        }
        let Some(reactor) = self.conn.reactor() else {
            return Ok(None);
        };
        let mut timer = sleep(&reactor, timeout);
        drop(reactor);
        // Dropping `timer` (an event came first, or this future was
        // dropped) cancels it: an awaited Deferred is cancelled on drop.
        std::future::poll_fn(|cx| {
            if let Poll::Ready(event) = self.poll_next(cx) {
                return Poll::Ready(Ok(event));
            }
            // Fired, or failed (cancelled at the reactor's teardown): either
            // way no event came in time.
            Pin::new(&mut timer)
                .poll(cx)
                .map(|_| Err(Elapsed { timeout }))
        })
        .await
    }

    /// Takes a buffered event without waiting (`None` if none is buffered).
    pub fn try_next(&mut self) -> Option<K::Event> {
        let event = self.shared.queue.borrow_mut().pop_front();
        if event.is_some() {
            self.resume_if_drained();
        }
        event
    }

    /// Resumes reading once the queue is down to half its capacity.
    fn resume_if_drained(&self) {
        if self.shared.paused.get() && self.shared.queue.borrow().len() <= self.shared.capacity / 2
        {
            self.shared.paused.set(false);
            self.conn.resume_reading();
        }
    }

    /// Events received and not taken yet.
    pub fn len(&self) -> usize {
        self.shared.queue.borrow().len()
    }

    /// True when no event is buffered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many events the stream buffers before it pauses reading.
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// True once no more events will arrive (they may still be buffered).
    pub fn is_ended(&self) -> bool {
        self.shared.ended.get()
    }

    /// Why the connection was lost, once it was.
    pub fn lost(&self) -> Option<ConnectionLost> {
        self.shared.lost.borrow().clone()
    }

    /// The connection, to send on it (a reply on a DEALER, ROUTER or PAIR)
    /// or shut it down.
    pub fn connection(&self) -> &Connection<K, S> {
        &self.conn
    }
}

impl<K: Pattern, S: 'static> Connection<K, S> {
    /// Installs a protocol that buffers this connection's events and
    /// returns the [`MessageStream`] to pull them from with `.await`,
    /// buffering up to [`DEFAULT_STREAM_CAPACITY`] events (see the
    /// [module docs](crate::stream)). It replaces the current protocol.
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown.
    pub fn messages(&self) -> Result<MessageStream<S, K>> {
        self.messages_with_capacity(DEFAULT_STREAM_CAPACITY)
    }

    /// [`messages`](Self::messages), buffering up to `capacity` events
    /// (at least 1) before reading pauses; reading resumes once the consumer
    /// has taken the buffer down to half of that.
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown.
    pub fn messages_with_capacity(&self, capacity: usize) -> Result<MessageStream<S, K>> {
        let capacity = capacity.max(1);
        let shared = Rc::new(Shared {
            queue: RefCell::new(VecDeque::with_capacity(
                capacity.min(DEFAULT_STREAM_CAPACITY),
            )),
            capacity,
            waker: RefCell::new(None),
            ended: Cell::new(false),
            lost: RefCell::new(None),
            paused: Cell::new(false),
        });
        self.set_listener(StreamProtocol::<K, S> {
            shared: Rc::clone(&shared),
            core: Rc::downgrade(&self.core),
        })?;
        Ok(MessageStream {
            shared,
            conn: self.clone(),
            serial: self.core.handler_serial(),
        })
    }
}
