//! STREAM: ZeroMQ's socket for raw TCP peers (no ZMTP), e.g. an HTTP client
//! or a line protocol.

use tx0mq_reactor::CallbackResult;

use crate::connection::{Connection, ZmqCtx};
use crate::error::Result;
use crate::frames::{Frame, IntoFrame, Multipart};
use crate::pattern::{Decoded, Pattern, Refused};

/// The STREAM pattern: each TCP peer has a routing id; what arrives is
/// `(peer, bytes)`, where empty bytes mean the peer connected or
/// disconnected.
#[derive(Clone, Copy, Debug, Default)]
pub struct StreamSocket;

impl Pattern for StreamSocket {
    /// `(peer, data)`.
    type Event = (Frame, Frame);

    fn socket_type(&self) -> zmq::SocketType {
        zmq::STREAM
    }

    fn when_refused(&self) -> Refused {
        Refused::Fail
    }

    fn decode(&self, mut message: Multipart) -> Decoded<(Frame, Frame)> {
        if message.len() != 2 {
            return Decoded::Malformed(format!(
                "a {}-frame message; a STREAM socket delivers [peer, data]",
                message.len()
            ));
        }
        match (message.pop(), message.pop()) {
            (Some(data), Some(peer)) => Decoded::Event((peer, data)),
            _ => Decoded::Malformed("a message with no peer".into()),
        }
    }
}

/// A STREAM connection: talks to plain TCP peers, each known by a routing
/// id. `got_message(peer, data)` hears their bytes (empty `data` when a peer
/// connects or disconnects); `send_msg(peer, data)` writes to one.
///
/// Like a ROUTER it never queues: a send to a peer that is gone or at its
/// high-water mark fails or is dropped by libzmq, and the caller decides.
///
/// ```
/// use std::io::{Read, Write};
/// use tx0mq_connections::{ZmqEndpoint, ZmqFactory, ZmqStreamConnection};
/// use tx0mq_reactor::Reactor;
///
/// let reactor = Reactor::builder().handle_signals(false).build()?;
/// let factory = ZmqFactory::new(&reactor)?;
/// let server = ZmqStreamConnection::new(&factory, ZmqEndpoint::bind("tcp://127.0.0.1:*"))?;
/// server.got_message(|cx, peer, data| {
///     if !data.is_empty() {
///         cx.conn.send_msg(&peer, [b"echo: ", &data[..]].concat())?;
///         cx.reactor.stop()?;
///     }
///     Ok::<(), Box<dyn std::error::Error>>(())
/// });
/// let address = server.last_endpoint()?;
/// let mut client = std::net::TcpStream::connect(address.trim_start_matches("tcp://"))?;
/// client.write_all(b"hi")?;
/// reactor.run()?;
/// let mut reply = [0; 8];
/// client.read_exact(&mut reply)?;
/// assert_eq!(&reply, b"echo: hi");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type ZmqStreamConnection<S = ()> = Connection<StreamSocket, S>;

impl<S: 'static> Connection<StreamSocket, S> {
    /// Writes `data` to the TCP peer `peer`. Empty `data` closes that
    /// peer's connection (see [`close_peer`](Self::close_peer)).
    ///
    /// # Errors
    ///
    /// `Error::Closed` after shutdown; `Error::Socket` (EHOSTUNREACH) for a
    /// peer that is gone, or (EAGAIN) one at its high-water mark.
    pub fn send_msg(&self, peer: &[u8], data: impl IntoFrame) -> Result<()> {
        let mut message = Multipart::with_capacity(2);
        message.push(peer);
        message.push(data);
        self.core.send(message, "send")
    }

    /// Closes the TCP connection of `peer`.
    ///
    /// # Errors
    ///
    /// As for [`send_msg`](Self::send_msg).
    pub fn close_peer(&self, peer: &[u8]) -> Result<()> {
        self.send_msg(peer, Frame::new())
    }

    /// Sets a closure as `got_message(peer, data)`. It may return `()` or a
    /// `Result`, whose error is logged.
    pub fn got_message<F, R>(&self, mut f: F)
    where
        F: FnMut(&mut ZmqCtx<'_, S, ZmqStreamConnection<S>>, Frame, Frame) -> R + 'static,
        R: CallbackResult,
    {
        self.set_named(move |cx, (peer, data)| f(cx, peer, data), "got_message");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(parts: &[&[u8]]) -> Multipart {
        parts.iter().map(|p| Frame::from(*p)).collect()
    }

    #[test]
    fn decode_splits_peer_and_data_and_refuses_other_shapes() {
        match StreamSocket.decode(frames(&[b"id", b"bytes"])) {
            Decoded::Event((peer, data)) => {
                assert_eq!((&peer[..], &data[..]), (&b"id"[..], &b"bytes"[..]))
            }
            other => panic!("expected an event, got {other:?}"),
        }
        for bad in [
            frames(&[b"id"]),
            frames(&[b"id", b"a", b"b"]),
            Multipart::new(),
        ] {
            match StreamSocket.decode(bad) {
                Decoded::Malformed(why) => assert!(why.contains("STREAM"), "{why}"),
                other => panic!("expected Malformed, got {other:?}"),
            }
        }
    }
}
