//! What libzmq knows of a received message's sender: the user id the ZAP
//! handler gave it, its address, and the other handshake properties.

use crate::frames::{Frame, Multipart};

/// The properties libzmq attaches to a received message (`zmq_msg_gets`,
/// pyzmq's `frame.get("User-Id")`): every frame of a message from one peer
/// carries the same ones. Messages built locally have none.
///
/// ```
/// use tx0mq_connections::security::MessageMetadata;
/// use tx0mq_connections::Multipart;
///
/// let mut local: Multipart = [&b"made here"[..]].into_iter().collect();
/// assert_eq!(local.user_id(), None);
/// ```
pub trait MessageMetadata {
    /// A property by name (`"User-Id"`, `"Peer-Address"`, `"Socket-Type"`,
    /// `"Routing-Id"`, or one the peer's handshake or the ZAP reply set).
    fn property(&mut self, name: &str) -> Option<&str>;

    /// The user id the ZAP handler gave the sender: its PLAIN user name, its
    /// CURVE key in Z85 (by default), [`ANONYMOUS`](super::ANONYMOUS) for
    /// NULL. `None` when no handler was asked.
    fn user_id(&mut self) -> Option<&str> {
        self.property("User-Id").filter(|id| !id.is_empty())
    }

    /// The sender's address as libzmq saw it (`"127.0.0.1"`); `None` for
    /// messages that did not come over a network transport.
    fn peer_address(&mut self) -> Option<&str> {
        self.property("Peer-Address").filter(|a| !a.is_empty())
    }
}

impl MessageMetadata for Frame {
    fn property(&mut self, name: &str) -> Option<&str> {
        // rust-zmq turns the name into a C string and would panic on NUL.
        if name.contains('\0') {
            return None;
        }
        self.gets(name)
    }
}

impl MessageMetadata for Multipart {
    fn property(&mut self, name: &str) -> Option<&str> {
        self.first_mut()?.property(name)
    }
}
