//! The key-value message of the Clone pattern (not an example itself):
//! `kvmsg.py` from the zguide (chapter 5, "Reliable Pub-Sub (Clone
//! Pattern)"), shared by `clonesrv5`, `clonecli5`, `clonesrv6`, `clonecli6`
//! and the `clone` client API.
//!
//! On the wire a message is five frames:
//!
//! | frame | content |
//! |---|---|
//! | 0 | key (empty: none) |
//! | 1 | sequence, 8 bytes, signed, network order (`struct.pack('!q')`) |
//! | 2 | UUID, 16 bytes (`uuid4().bytes`) |
//! | 3 | properties, `name=value\n` for each, in the order they were set |
//! | 4 | body (empty: none, which deletes the key when stored) |
//!
//! As in the original, a message stored in a map ([`KvMsg::store`]) replaces
//! the key's value, or deletes the key when it has no body. The properties
//! decode as the original decodes them: each line with exactly one `=`
//! counts, anything else is skipped. The Clone models use one property,
//! `ttl`: seconds to live as a client sends it, and the time of expiry
//! (seconds since the Unix epoch, as Python's `time.time()`) once a server
//! has stored it.
//!
//! A message that is not five frames, or whose sequence is not eight bytes,
//! is refused by [`KvMsg::from_frames`] with an error saying so (the
//! original raises); the programs print it, naming the sender, and go on.
//!
//! [`log`] is the programs' `logging.info` as the originals set it up
//! (`%(asctime)s %(message)s`).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read as _;

use tx0mq::connections::{bytes_repr, Frame, ZmqConnection};

use crate::pyport;

/// A key-value map as the Clone programs keep it: key → the last message
/// stored for it (ordered, so that dumps and snapshots are repeatable).
pub type KvMap = BTreeMap<Vec<u8>, KvMsg>;

/// One key-value message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvMsg {
    /// The key; empty means none.
    pub key: Vec<u8>,
    /// The sequence number the server gave it (0 from a client).
    pub sequence: i64,
    /// Who made it: 16 random bytes (a UUID4), kept across resends.
    pub uuid: Vec<u8>,
    /// The properties, in the order they were set.
    pub properties: Vec<(Vec<u8>, Vec<u8>)>,
    /// The value; empty means none (a delete).
    pub body: Vec<u8>,
}

/// The properties as on the wire: `name=value\n` for each.
pub fn encode_properties(properties: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in properties {
        out.extend_from_slice(name);
        out.push(b'=');
        out.extend_from_slice(value);
        out.push(b'\n');
    }
    out
}

/// The properties of a frame 3: each line with exactly one `=` is a
/// property; other lines (the empty last one, say) are skipped. A name seen
/// twice keeps its last value.
pub fn decode_properties(text: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut properties: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        let mut parts = line.split(|&b| b == b'=');
        let (Some(name), Some(value), None) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        set(&mut properties, name, value);
    }
    properties
}

/// Sets `name` to `value` in `properties`, in place if it is there.
fn set(properties: &mut Vec<(Vec<u8>, Vec<u8>)>, name: &[u8], value: &[u8]) {
    match properties.iter_mut().find(|(n, _)| n == name) {
        Some((_, v)) => *v = value.to_vec(),
        None => properties.push((name.to_vec(), value.to_vec())),
    }
}

/// 16 random bytes with the UUID version 4 and variant bits (`uuid4().bytes`),
/// from `/dev/urandom`, else from the clock-seeded generator.
pub fn uuid4() -> Vec<u8> {
    let mut bytes = [0u8; 16];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        let mut random = pyport::Random::new();
        for byte in &mut bytes {
            *byte = random.randrange(0, 256) as u8;
        }
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    bytes.to_vec()
}

impl KvMsg {
    /// An empty message with `sequence` and a fresh UUID (`KVMsg(sequence)`).
    pub fn new(sequence: i64) -> KvMsg {
        KvMsg {
            key: Vec::new(),
            sequence,
            uuid: uuid4(),
            properties: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A message setting `key` to `body`, with a fresh UUID.
    pub fn with(sequence: i64, key: impl Into<Vec<u8>>, body: impl Into<Vec<u8>>) -> KvMsg {
        KvMsg {
            key: key.into(),
            body: body.into(),
            ..KvMsg::new(sequence)
        }
    }

    /// The property `name`, if set (`kvmsg.get(name)`).
    pub fn get(&self, name: &[u8]) -> Option<&[u8]> {
        self.properties
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| &v[..])
    }

    /// Sets the property `name` (`kvmsg[name] = value`).
    pub fn set_prop(&mut self, name: &[u8], value: impl AsRef<[u8]>) {
        set(&mut self.properties, name, value.as_ref());
    }

    /// The `ttl` property as a number (`float(kvmsg.get('ttl', 0))`): 0 when
    /// it is missing or not a number.
    pub fn ttl(&self) -> f64 {
        self.get(b"ttl")
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite())
            .unwrap_or(0.0)
    }

    /// Turns a relative `ttl` (seconds, as a client sends it) into the time
    /// of expiry, `now + ttl` (seconds since the epoch), as a server stores
    /// it. No `ttl`, or 0: nothing changes.
    pub fn stamp_ttl(&mut self, now: f64) {
        let ttl = self.ttl();
        if ttl != 0.0 {
            self.set_prop(b"ttl", pyport::float_repr(now + ttl));
        }
    }

    /// Whether the message has a stamped `ttl` that has passed at `now`.
    pub fn expired(&self, now: f64) -> bool {
        let ttl = self.ttl();
        ttl != 0.0 && ttl <= now
    }

    /// Stores the message in `map` if it has a key and a body, else deletes
    /// its key from `map` (`kvmsg.store(dikt)`).
    pub fn store(self, map: &mut KvMap) {
        if self.body.is_empty() {
            map.remove(&self.key);
        } else if !self.key.is_empty() {
            map.insert(self.key.clone(), self);
        }
    }

    /// The five frames, as `send` writes them.
    pub fn frames(&self) -> Vec<Vec<u8>> {
        vec![
            self.key.clone(),
            self.sequence.to_be_bytes().to_vec(),
            self.uuid.clone(),
            encode_properties(&self.properties),
            self.body.clone(),
        ]
    }

    /// Sends the message on `conn` (`kvmsg.send(socket)`).
    pub fn send<S: 'static>(&self, conn: &ZmqConnection<S>) -> tx0mq::connections::Result<()> {
        conn.send(self.frames())
    }

    /// Sends the message on a ROUTER `conn` to `identity`.
    pub fn send_to<S: 'static>(
        &self,
        conn: &ZmqConnection<S>,
        identity: &[u8],
    ) -> tx0mq::connections::Result<()> {
        let mut frames = vec![identity.to_vec()];
        frames.extend(self.frames());
        conn.send(frames)
    }

    /// The message in received frames (`KVMsg.from_msg`), or why they are
    /// not one.
    pub fn from_frames(frames: &[Frame]) -> Result<KvMsg, String> {
        let [key, sequence, uuid, properties, body] = frames else {
            return Err(format!(
                "a key-value message has 5 frames, not {}",
                frames.len()
            ));
        };
        let sequence: [u8; 8] = sequence[..].try_into().map_err(|_| {
            format!(
                "the sequence frame has 8 bytes, not {}: {}",
                sequence.len(),
                bytes_repr(sequence)
            )
        })?;
        Ok(KvMsg {
            key: key.to_vec(),
            sequence: i64::from_be_bytes(sequence),
            uuid: uuid.to_vec(),
            properties: decode_properties(properties),
            body: body.to_vec(),
        })
    }

    /// Prints the message on stderr as `<< [seq:..][key:..]... >>`
    /// (`kvmsg.dump()`).
    pub fn dump(&self) {
        eprintln!("<< {self} >>");
    }
}

/// `str(kvmsg)`: `[seq:1][key:b'key'][size:4][props:b''][data:b'body']`.
impl fmt::Display for KvMsg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = if self.key.is_empty() {
            "None".to_string()
        } else {
            bytes_repr(&self.key)
        };
        let data = if self.body.is_empty() {
            "b'NULL'".to_string()
        } else {
            bytes_repr(&self.body)
        };
        write!(
            f,
            "[seq:{}][key:{key}][size:{}][props:{}][data:{data}]",
            self.sequence,
            self.body.len(),
            bytes_repr(&encode_properties(&self.properties))
        )
    }
}

/// Prints `map` as the programs' `--print-map` does: `map: KEY=VALUE` for
/// each key in order, then `map: N keys`, so that a test can compare two
/// processes' maps exactly.
pub fn print_map(map: &KvMap) {
    for (key, kvmsg) in map {
        println!(
            "map: {}={}",
            String::from_utf8_lossy(key),
            String::from_utf8_lossy(&kvmsg.body)
        );
    }
    println!("map: {} keys", map.len());
}

#[allow(unused_imports)] // not every program including this module logs
pub use crate::pyport::log;

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(kvmsg: &KvMsg) -> Vec<Frame> {
        kvmsg.frames().into_iter().map(Frame::from).collect()
    }

    #[test]
    fn a_message_survives_the_wire_with_its_properties() {
        let mut kvmsg = KvMsg::with(2, "key", "body");
        kvmsg.set_prop(b"prop1", "value1");
        kvmsg.set_prop(b"prop2", "value2");
        let wire = frames(&kvmsg);
        assert_eq!(&wire[1][..], &[0, 0, 0, 0, 0, 0, 0, 2]);
        assert_eq!(&wire[3][..], b"prop1=value1\nprop2=value2\n");
        assert_eq!(KvMsg::from_frames(&wire), Ok(kvmsg));
    }

    #[test]
    fn storing_sets_and_an_empty_body_deletes() {
        let mut map = KvMap::new();
        KvMsg::with(1, "key", "body").store(&mut map);
        assert_eq!(map.len(), 1);
        KvMsg::with(2, "key", "").store(&mut map);
        assert!(map.is_empty());
    }

    #[test]
    fn malformed_messages_are_refused_saying_why() {
        let short: Vec<Frame> = vec![Frame::from(&b"key"[..])];
        assert!(KvMsg::from_frames(&short).is_err_and(|e| e.contains("5 frames")));
        let mut wire = frames(&KvMsg::with(1, "k", "v"));
        wire[1] = Frame::from(&b"123"[..]);
        assert!(KvMsg::from_frames(&wire).is_err_and(|e| e.contains("8 bytes")));
    }

    #[test]
    fn properties_decode_as_the_original_does() {
        let decoded = decode_properties(b"ttl=5\nbad\na=b=c\n\nx=\n");
        let expected = vec![
            (b"ttl".to_vec(), b"5".to_vec()),
            (b"x".to_vec(), Vec::new()),
        ];
        assert_eq!(decoded, expected);
    }

    #[test]
    fn a_stamped_ttl_expires() {
        let mut kvmsg = KvMsg::with(1, "k", "v");
        kvmsg.set_prop(b"ttl", "2");
        kvmsg.stamp_ttl(100.0);
        assert_eq!(kvmsg.get(b"ttl"), Some(&b"102.0"[..]));
        assert!(!kvmsg.expired(101.0));
        assert!(kvmsg.expired(102.0));
        let mut forever = KvMsg::with(1, "k", "v");
        forever.set_prop(b"ttl", "0");
        forever.stamp_ttl(100.0);
        assert!(!forever.expired(1e12));
    }

    #[test]
    fn uuids_are_version_four() {
        let uuid = uuid4();
        assert_eq!(uuid.len(), 16);
        assert_eq!(uuid[6] >> 4, 4);
        assert_ne!(uuid, uuid4());
    }

    #[test]
    fn it_prints_as_the_original_does() {
        let kvmsg = KvMsg::with(3, "key", "");
        assert_eq!(
            kvmsg.to_string(),
            "[seq:3][key:b'key'][size:0][props:b''][data:b'NULL']"
        );
    }
}
