//! `kvsimple.py`, the zguide's key-value message of the Clone models one to
//! four (chapter 5, "Reliable Publish-Subscribe (Clone Pattern)"), shared by
//! `clonesrv1`..`clonesrv4` and `clonecli1`..`clonecli4` (not an example
//! itself).
//!
//! A message is three frames on the wire: the key, the sequence number (four
//! bytes, big-endian, signed: Python's `struct.pack('!l', n)`), and the body.
//! An empty key or body travels as an empty frame and is read back as none.
//! A map keeps only messages that have both.
//!
//! Beyond the original: [`digest`] and [`print_digest`], the one line the
//! ports print of a whole map (`I: map holds N keys, digest HEX`) so that a
//! test can compare a client's map with its server's exactly. The digest is
//! FNV-1a (64 bits) over the entries in key order, each `key \0 body \n`;
//! `tests/peers/clone_simple.py` computes the same.
//!
//! And [`subscriber`], the clients' SUB connection, which says when its
//! subscription is on its way to the server: a client asks for its snapshot
//! then, which narrows the window in which an update can miss it.
#![allow(dead_code)]

use std::collections::BTreeMap;

use tx0mq::connections::{
    bytes_repr, Error, Frame, MonitorEvent, MonitorEvents, ZmqConnection, ZmqEndpoint, ZmqFactory,
    ZmqSubConnection,
};
use tx0mq::Ctx;

/// What a process knows of the shared state: each key's latest message.
pub type KvMap = BTreeMap<Vec<u8>, KvMsg>;

/// One key-value update: the original's `KVMsg`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KvMsg {
    /// The update's place in the server's sequence (0 for a client's new
    /// update, before the server numbers it).
    pub sequence: i32,
    /// The key, if any.
    pub key: Option<Vec<u8>>,
    /// The body, if any.
    pub body: Option<Vec<u8>>,
}

impl KvMsg {
    /// An empty message with `sequence`.
    pub fn new(sequence: i32) -> KvMsg {
        KvMsg {
            sequence,
            key: None,
            body: None,
        }
    }

    /// A message with a key and a body.
    pub fn with(sequence: i32, key: impl Into<Vec<u8>>, body: impl Into<Vec<u8>>) -> KvMsg {
        KvMsg {
            sequence,
            key: Some(key.into()),
            body: Some(body.into()),
        }
    }

    /// Stores the message in `map` under its key, if it has a key and a
    /// body (as the original does).
    pub fn store(&self, map: &mut KvMap) {
        if let (Some(key), Some(_)) = (&self.key, &self.body) {
            map.insert(key.clone(), self.clone());
        }
    }

    /// The three frames: key, sequence, body (absent ones empty).
    pub fn frames(&self) -> Vec<Vec<u8>> {
        vec![
            self.key.clone().unwrap_or_default(),
            self.sequence.to_be_bytes().to_vec(),
            self.body.clone().unwrap_or_default(),
        ]
    }

    /// Sends the message on `socket` (`KVMsg.send`).
    pub fn send<S: 'static>(&self, socket: &ZmqConnection<S>) -> Result<(), Error> {
        socket.send(self.frames())
    }

    /// Sends the message on a ROUTER `socket` to the peer `identity`: the
    /// original's `socket.send(identity, SNDMORE)` then `KVMsg.send`.
    pub fn send_to<S: 'static>(
        &self,
        socket: &ZmqConnection<S>,
        identity: &[u8],
    ) -> Result<(), Error> {
        let mut frames = vec![identity.to_vec()];
        frames.extend(self.frames());
        socket.send(frames)
    }

    /// Reads a message from its three frames (`KVMsg.recv`), or says what is
    /// wrong with them.
    pub fn parse(frames: &[Frame]) -> Result<KvMsg, String> {
        let [key, sequence, body] = frames else {
            return Err(format!("{} frames, not 3", frames.len()));
        };
        let sequence: [u8; 4] = sequence[..].try_into().map_err(|_| {
            format!(
                "a sequence of {} bytes, not 4: {}",
                sequence.len(),
                bytes_repr(sequence)
            )
        })?;
        let optional = |frame: &Frame| (!frame.is_empty()).then(|| frame.to_vec());
        Ok(KvMsg {
            sequence: i32::from_be_bytes(sequence),
            key: optional(key),
            body: optional(body),
        })
    }

    /// `KVMsg.dump`: `[seq:N][key:KEY][size:N] BODY` on stderr, the body as
    /// Python's `repr` of bytes, `NULL` if there is none.
    pub fn dump(&self) {
        let key = self
            .key
            .as_deref()
            .map_or_else(|| "None".to_string(), |k| String::from_utf8_lossy(k).into());
        let (size, data) = match &self.body {
            Some(body) => (body.len(), bytes_repr(body)),
            None => (0, "NULL".to_string()),
        };
        eprintln!("[seq:{}][key:{key}][size:{size}] {data}", self.sequence);
    }
}

/// The number of keys in `map` and the FNV-1a digest of its entries in key
/// order (each `key \0 body \n`).
pub fn digest(map: &KvMap) -> (usize, u64) {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (key, message) in map {
        let body = message.body.as_deref().unwrap_or_default();
        for byte in key.iter().chain(b"\0").chain(body).chain(b"\n") {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    (map.len(), hash)
}

/// Prints `I: map holds N keys, digest HEX` (16 hex digits) for `map`.
pub fn print_digest(map: &KvMap) {
    let (keys, hash) = digest(map);
    println!("I: map holds {keys} keys, digest {hash:016x}");
}

/// A SUB connection to `endpoint`, subscribed to `prefix`, that calls
/// `ready` once, when its first ZMTP handshake is done. A SUB socket sends
/// its subscriptions as soon as its handshake is, so by then they are on
/// their way, and a request sent then (the snapshot's) usually reaches the
/// server after them. Usually: the server's PUB socket takes a
/// subscription in when it next looks at its queues, which may be after
/// the snapshot is answered, and what it publishes in between is lost to
/// this subscriber. (The originals subscribe and ask at once, and lose
/// more.)
pub fn subscriber<S: 'static>(
    factory: &ZmqFactory<S>,
    endpoint: &str,
    prefix: &[u8],
    ready: impl FnOnce(&mut Ctx<'_, S>) -> Result<(), Error> + 'static,
) -> Result<ZmqSubConnection<S>, Error> {
    let subscriber = ZmqSubConnection::new(factory, Vec::new())?;
    subscriber.subscribe(prefix)?;
    subscriber.monitor_events(MonitorEvents::HANDSHAKE_SUCCEEDED)?;
    let mut ready = Some(ready);
    subscriber.on_monitor(move |cx, event| {
        if let MonitorEvent::HandshakeSucceeded { .. } = event {
            cx.conn.stop_monitor();
            if let Some(ready) = ready.take() {
                return ready(&mut cx.ctx());
            }
        }
        Ok(())
    });
    subscriber.add_endpoints(ZmqEndpoint::connect(endpoint))?;
    Ok(subscriber)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The original's self test: a message survives the wire and is stored
    /// once.
    #[test]
    fn a_message_survives_the_wire_and_is_stored() {
        let message = KvMsg::with(1, "key", "body");
        let frames: Vec<Frame> = message.frames().into_iter().map(Frame::from).collect();
        let back = KvMsg::parse(&frames).expect("three good frames");
        assert_eq!(back, message);
        let mut map = KvMap::new();
        message.store(&mut map);
        back.store(&mut map);
        assert_eq!(map.len(), 1);
    }

    /// The sequence is Python's `!l`: four bytes, big-endian, signed.
    #[test]
    fn the_sequence_is_four_bytes_big_endian() {
        assert_eq!(KvMsg::new(258).frames()[1], vec![0, 0, 1, 2]);
        let frames = [Frame::from("k"), Frame::from("\x01\x02"), Frame::from("b")];
        assert!(KvMsg::parse(&frames).is_err());
    }

    /// Empty frames read back as none, and such a message is not stored.
    #[test]
    fn empty_frames_are_none_and_not_stored() {
        let frames = [
            Frame::from(""),
            Frame::from(&[0u8, 0, 0, 7][..]),
            Frame::from(""),
        ];
        let message = KvMsg::parse(&frames).expect("three frames");
        assert_eq!(message, KvMsg::new(7));
        let mut map = KvMap::new();
        message.store(&mut map);
        assert!(map.is_empty());
    }

    /// The digest of a known map (as tests/peers/clone_simple.py computes it).
    #[test]
    fn the_digest_is_fnv1a_of_the_sorted_entries() {
        let mut map = KvMap::new();
        assert_eq!(digest(&map), (0, 0xcbf2_9ce4_8422_2325));
        KvMsg::with(2, "b", "2").store(&mut map);
        KvMsg::with(1, "a", "1").store(&mut map);
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in b"a\x001\nb\x002\n" {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        assert_eq!(digest(&map), (2, hash));
    }
}
