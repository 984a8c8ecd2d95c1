//! [`Connection::events`]: a connection's `ZMQ_EVENTS`, what pyzmq's
//! `Poller.poll()` reports for a socket (pyzmq's `poll/` examples check it).

use crate::connection::Connection;
use crate::error::Result;
use crate::pattern::Pattern;

impl<K: Pattern, S: 'static> Connection<K, S> {
    /// The socket's `ZMQ_EVENTS` now: `POLLIN` if a message waits to be
    /// received, `POLLOUT` if one could be sent without waiting; what a
    /// poll of the socket would report (pyzmq's `socket.poll(0)` or
    /// `dict(poller.poll())[socket]`).
    ///
    /// The reactor reads it too: a connection with a protocol takes the
    /// waiting messages as soon as it runs, so `POLLIN` is seen here on a
    /// connection that reads nothing yet (no protocol set) or between the
    /// arrival and the reactor's next pass. Reading it is safe at any time:
    /// the reactor looks at the socket again afterwards (the edge-trigger
    /// invariants of `ZMQ_FD`).
    ///
    /// ```
    /// use tx0mq_connections::{zmq, ZmqEndpoint, ZmqFactory, ZmqPairConnection};
    /// use tx0mq_reactor::Reactor;
    ///
    /// let reactor = Reactor::builder().handle_signals(false).build()?;
    /// let factory = ZmqFactory::new(&reactor)?;
    /// let a = ZmqPairConnection::new(&factory, ZmqEndpoint::bind("inproc://doc-events"))?;
    /// assert_eq!(a.events()?, zmq::PollEvents::empty()); // no peer: cannot send
    /// let b = ZmqPairConnection::new(&factory, ZmqEndpoint::connect("inproc://doc-events"))?;
    /// assert_eq!(b.events()?, zmq::POLLOUT);
    /// b.send_msg(b"hi")?;
    /// assert_eq!(a.events()?, zmq::POLLIN | zmq::POLLOUT); // nothing reads it yet
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown; `Error::Socket` naming the
    /// connection if libzmq refuses the read.
    pub fn events(&self) -> Result<zmq::PollEvents> {
        self.core.poll_events()
    }
}
