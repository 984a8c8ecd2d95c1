//! Serialized messages: pyzmq's `send_json`/`recv_json` and
//! `send_serialized`/`recv_serialized`.
//!
//! A [`Codec`] turns a value into the frames of one message and back. A
//! connection that sends plain messages (raw, PUB, PUSH, DEALER, PAIR: the
//! patterns marked [`PlainSend`]) sends a value with
//! [`send_serialized`](crate::Connection::send_serialized); one that hears
//! whole messages (raw, PULL, DEALER, PAIR) hears values with
//! [`on_serialized`](crate::Connection::on_serialized), whose callback gets a
//! `Result<T, DecodeError>` per message: a message that does not decode is an
//! error in the callback, naming the connection and the problem, and the
//! connection goes on serving (the next good message arrives as usual). With
//! the `json` feature, [`Json`] is the codec of pyzmq's `send_json`:
//! **one frame** of UTF-8 JSON, and the shorthands
//! [`send_json`](crate::Connection::send_json) and
//! [`on_json`](crate::Connection::on_json) use it.
//!
//! The patterns with framing of their own (REQ, REP, ROUTER) use a codec
//! directly: `req.send_msg(Json.encode(&value)?)`, and `Json.decode(&reply)`
//! on what comes back.
//!
//! # The `json` feature
//!
//! On by default: `send_json` is pyzmq's most used convenience, and serde
//! (its traits only, no derive) and serde_json are in nearly every Rust
//! program's dependencies already. `default-features = false` leaves both
//! out; [`Codec`] and the `*_serialized` calls stay.
//!
//! ```
//! # #[cfg(feature = "json")] {
//! use tx0mq_connections::{ZmqEndpoint, ZmqFactory, ZmqPullConnection, ZmqPushConnection};
//! use tx0mq_reactor::Reactor;
//!
//! let reactor = Reactor::builder().state(Vec::new()).handle_signals(false).build()?;
//! let factory = ZmqFactory::new(&reactor)?;
//! let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind("inproc://doc-json"))?;
//! pull.on_json(|cx, point: Result<(i32, i32), _>| {
//!     match point {
//!         Ok(point) => cx.state.push(point),
//!         Err(e) => eprintln!("{e}"), // names the connection and the problem
//!     }
//!     if cx.state.len() == 2 {
//!         cx.reactor.stop()?;
//!     }
//!     Ok::<(), tx0mq_reactor::Error>(())
//! });
//! let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect("inproc://doc-json"))?;
//! push.send_json(&(1, 2))?;
//! push.push(b"{not json")?; // an error in the callback; the next one arrives
//! push.send_json(&(3, 4))?;
//! reactor.run()?;
//! assert_eq!(reactor.access_state(|got| got.clone())?, [(1, 2), (3, 4)]);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use tx0mq_reactor::CallbackResult;

use crate::connection::{Connection, ZmqCtx};
use crate::error::{Error, Result};
use crate::frames::{Frame, Multipart};
use crate::pattern::{Dealer, Pair, Pattern, Pub, Push, Raw};
use crate::stream::MessageStream;

/// What a codec's own error is: anything that explains itself.
pub type CodecError = Box<dyn std::error::Error + Send + Sync>;

/// Turns a `T` into the frames of one message and back (pyzmq's
/// `serialize`/`deserialize` arguments of `send_serialized` and
/// `recv_serialized`).
///
/// ```
/// use tx0mq_connections::serial::{Codec, CodecError};
/// use tx0mq_connections::{Frame, Multipart};
///
/// /// A `u32`, big-endian, in one frame.
/// struct BigEndian;
///
/// impl Codec<u32> for BigEndian {
///     fn encode(&self, value: &u32) -> Result<Multipart, CodecError> {
///         Ok(Multipart::from(vec![Frame::from(&value.to_be_bytes()[..])]))
///     }
///     fn decode(&self, frames: &[Frame]) -> Result<u32, CodecError> {
///         match frames {
///             [frame] => Ok(u32::from_be_bytes(frame[..].try_into()?)),
///             _ => Err(format!("{} frames, expected 1", frames.len()).into()),
///         }
///     }
/// }
///
/// let frames = BigEndian.encode(&7)?;
/// assert_eq!(BigEndian.decode(&frames)?, 7);
/// assert!(BigEndian.decode(&[Frame::from(&b"abc"[..])]).is_err());
/// # Ok::<(), CodecError>(())
/// ```
pub trait Codec<T> {
    /// The frames of the message that carries `value`.
    ///
    /// # Errors
    ///
    /// Whatever keeps `value` from being encoded.
    fn encode(&self, value: &T) -> std::result::Result<Multipart, CodecError>;

    /// The value a message's frames carry.
    ///
    /// # Errors
    ///
    /// What is wrong with the frames (their number, their contents): it
    /// becomes the source of a [`DecodeError`].
    fn decode(&self, frames: &[Frame]) -> std::result::Result<T, CodecError>;
}

impl<T, C: Codec<T> + ?Sized> Codec<T> for &C {
    fn encode(&self, value: &T) -> std::result::Result<Multipart, CodecError> {
        (**self).encode(value)
    }

    fn decode(&self, frames: &[Frame]) -> std::result::Result<T, CodecError> {
        (**self).decode(frames)
    }
}

/// A received message that its codec could not decode. The message is
/// dropped; the connection goes on.
#[derive(Debug)]
pub struct DecodeError {
    connection: String,
    frames: usize,
    bytes: usize,
    source: CodecError,
}

impl DecodeError {
    pub(crate) fn new(connection: String, frames: &[Frame], source: CodecError) -> Self {
        DecodeError {
            connection,
            frames: frames.len(),
            bytes: frames.iter().map(|frame| frame.len()).sum(),
            source,
        }
    }

    /// The connection the message came on, as errors name it.
    pub fn connection(&self) -> &str {
        &self.connection
    }

    /// How many frames the message had.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// How many bytes its frames held in all.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: cannot decode a {}-frame message ({} bytes): {}",
            self.connection, self.frames, self.bytes, self.source
        )
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// The patterns whose connections send a message as it is (raw, PUB, PUSH,
/// DEALER, PAIR), and so have
/// [`send_serialized`](crate::Connection::send_serialized) and
/// [`send_json`](crate::Connection::send_json). Sealed.
pub trait PlainSend: Pattern + sealed::Sealed {}

mod sealed {
    pub trait Sealed {}
}

macro_rules! plain_send {
    ($($pattern:ty),*) => {$(
        impl sealed::Sealed for $pattern {}
        impl PlainSend for $pattern {}
    )*};
}

plain_send!(Raw, Pub, Push, Dealer, Pair);

impl<K: PlainSend, S: 'static> Connection<K, S> {
    /// Sends `value` as the message `codec` makes of it (pyzmq's
    /// `send_serialized(msg, serialize)`), with the pattern's send policy
    /// (PUB drops at the high-water mark, the others queue in the outbox).
    ///
    /// # Errors
    ///
    /// [`Error::Encode`] naming the connection if the codec fails (nothing is
    /// sent); otherwise what the pattern's send returns (`Error::Closed`,
    /// `Error::OutboxFull`).
    pub fn send_serialized<T, C: Codec<T>>(&self, codec: &C, value: &T) -> Result<()> {
        let frames = codec.encode(value).map_err(|source| Error::Encode {
            connection: self.core.describe(),
            source,
        })?;
        self.core.send_message(frames, "send_serialized")
    }
}

impl<K: Pattern<Event = Multipart>, S: 'static> Connection<K, S> {
    /// Hears every message as the value `codec` decodes from it (pyzmq's
    /// `recv_serialized(deserialize)`, callback style). The callback gets
    /// `Ok(value)`, or a [`DecodeError`] naming the connection and the
    /// problem for a message that does not decode; either way the connection
    /// goes on serving. It replaces the protocol, like
    /// [`on_event`](Self::on_event).
    pub fn on_serialized<T, C, F, R>(&self, codec: C, mut f: F)
    where
        T: 'static,
        C: Codec<T> + 'static,
        F: FnMut(&mut ZmqCtx<'_, S, Connection<K, S>>, std::result::Result<T, DecodeError>) -> R
            + 'static,
        R: CallbackResult,
    {
        self.set_named(
            move |cx: &mut ZmqCtx<'_, S, Connection<K, S>>, message: Multipart| {
                let value = codec
                    .decode(&message)
                    .map_err(|source| DecodeError::new(cx.conn.core.describe(), &message, source));
                f(cx, value)
            },
            "decoded",
        );
    }
}

impl<S: 'static, K: Pattern<Event = Multipart>> MessageStream<S, K> {
    /// The next message, decoded by `codec` (the async form of
    /// [`on_serialized`](Connection::on_serialized)); `None` once the
    /// stream has ended. A message that does not decode is an `Err` and the
    /// stream goes on.
    pub async fn next_serialized<T, C: Codec<T>>(
        &mut self,
        codec: &C,
    ) -> Option<std::result::Result<T, DecodeError>> {
        let message = self.next().await?;
        Some(codec.decode(&message).map_err(|source| {
            DecodeError::new(self.connection().core.describe(), &message, source)
        }))
    }
}

#[cfg(feature = "json")]
pub use json::Json;

#[cfg(feature = "json")]
mod json {
    use serde::de::DeserializeOwned;
    use serde::Serialize;
    use tx0mq_reactor::CallbackResult;

    use super::{Codec, CodecError, DecodeError, PlainSend};
    use crate::connection::{Connection, ZmqCtx};
    use crate::error::{Error, Result};
    use crate::frames::{Frame, Multipart};
    use crate::pattern::Pattern;
    use crate::stream::MessageStream;

    /// pyzmq's JSON codec: one frame of UTF-8 JSON (`send_json`,
    /// `recv_json`). Ours writes compact JSON (`{"a":1}`) where pyzmq writes
    /// `{"a": 1}`; each reads the other's. A message of more than one frame,
    /// or one that is not JSON of the type asked for, does not decode.
    ///
    /// ```
    /// use tx0mq_connections::serial::{Codec, Json};
    ///
    /// let frames = Json.encode(&vec![1, 2, 3])?;
    /// assert_eq!(&frames[0][..], b"[1,2,3]");
    /// let back: Vec<u32> = Json.decode(&frames)?;
    /// assert_eq!(back, [1, 2, 3]);
    /// # Ok::<(), tx0mq_connections::serial::CodecError>(())
    /// ```
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Json;

    impl<T: Serialize + DeserializeOwned> Codec<T> for Json {
        fn encode(&self, value: &T) -> std::result::Result<Multipart, CodecError> {
            Ok(Multipart::from(vec![Frame::from(serde_json::to_vec(
                value,
            )?)]))
        }

        fn decode(&self, frames: &[Frame]) -> std::result::Result<T, CodecError> {
            json_frame(frames)
        }
    }

    /// The one frame of a JSON message, decoded.
    fn json_frame<T: DeserializeOwned>(frames: &[Frame]) -> std::result::Result<T, CodecError> {
        match frames {
            [frame] => serde_json::from_slice(frame)
                .map_err(|e| format!("not the JSON expected: {e}").into()),
            _ => Err(format!("JSON is one frame, this message has {}", frames.len()).into()),
        }
    }

    impl<K: PlainSend, S: 'static> Connection<K, S> {
        /// Sends `value` as one frame of UTF-8 JSON (pyzmq's `send_json`).
        ///
        /// # Errors
        ///
        /// [`Error::Encode`] if `value` does not serialize (a map with
        /// non-string keys, say); otherwise what the pattern's send returns.
        pub fn send_json<T: Serialize + ?Sized>(&self, value: &T) -> Result<()> {
            let text = serde_json::to_vec(value).map_err(|e| Error::Encode {
                connection: self.core.describe(),
                source: Box::new(e),
            })?;
            self.core.send_message(text, "send_json")
        }
    }

    impl<K: Pattern<Event = Multipart>, S: 'static> Connection<K, S> {
        /// Hears every message as JSON of type `T` (pyzmq's `recv_json`,
        /// callback style): [`on_serialized`](Self::on_serialized) with
        /// [`Json`]. A message that is not one frame of such JSON is a
        /// [`DecodeError`] in the callback; the connection goes on.
        pub fn on_json<T, F, R>(&self, mut f: F)
        where
            T: DeserializeOwned + 'static,
            F: FnMut(
                    &mut ZmqCtx<'_, S, Connection<K, S>>,
                    std::result::Result<T, DecodeError>,
                ) -> R
                + 'static,
            R: CallbackResult,
        {
            self.set_named(
                move |cx: &mut ZmqCtx<'_, S, Connection<K, S>>, message: Multipart| {
                    let value = json_frame(&message).map_err(|source| {
                        DecodeError::new(cx.conn.core.describe(), &message, source)
                    });
                    f(cx, value)
                },
                "decoded",
            );
        }
    }

    impl<S: 'static, K: Pattern<Event = Multipart>> MessageStream<S, K> {
        /// The next message as JSON of type `T` (pyzmq's async
        /// `recv_json`); `None` once the stream has ended.
        pub async fn next_json<T: DeserializeOwned>(
            &mut self,
        ) -> Option<std::result::Result<T, DecodeError>> {
            let message = self.next().await?;
            Some(json_frame(&message).map_err(|source| {
                DecodeError::new(self.connection().core.describe(), &message, source)
            }))
        }
    }
}
