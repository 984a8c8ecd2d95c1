//! Framing on top of a byte stream (Twisted's `twisted.protocols.basic`):
//! [`LineReceiver`], lines with a delimiter and a raw mode, and
//! [`Int32StringReceiver`], strings with a 4-byte big-endian length prefix.
//!
//! Each wraps a protocol of its own kind ([`LineProtocol`],
//! [`StringProtocol`]) where Twisted subclasses, and is itself a
//! [`Protocol`]: give it to a factory, `StandardIO` or a string transport.

use std::fmt;

use tx0mq_reactor::{Ctx, Reactor};

use crate::error::{Error, Reason, Result};
use crate::protocol::{AfterEof, NetCtx, Protocol};
use crate::transport::Transport;

/// Where `needle` first occurs in `haystack` (an empty needle never does).
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    match needle {
        [] => None,
        [byte] => haystack.iter().position(|b| b == byte),
        _ => haystack.windows(needle.len()).position(|w| w == needle),
    }
}

// ---------------------------------------------------------------------------
// Lines

/// A [`LineReceiver`]'s framing state: its buffer, delimiter, limit, mode.
struct LineFraming {
    /// Received and not yet handled: `buf[start..]`.
    buf: Vec<u8>,
    start: usize,
    delimiter: Vec<u8>,
    max_length: usize,
    line_mode: bool,
}

/// What a [`LineProtocol`]'s callbacks get: the reactor, the state and the
/// transport as in [`NetCtx`], and the receiver's framing (to send lines,
/// switch modes, change the limit).
pub struct LineCtx<'a, S: 'static = ()> {
    /// The reactor.
    pub reactor: &'a Reactor<S>,
    /// The application state.
    pub state: &'a mut S,
    /// The connection.
    pub transport: &'a Transport<S>,
    framing: &'a mut LineFraming,
}

impl<S: 'static> LineCtx<'_, S> {
    /// Writes `line` and the delimiter (Twisted's `sendLine`).
    ///
    /// # Errors
    ///
    /// As for [`Transport::write`].
    pub fn send_line(&self, line: impl AsRef<[u8]>) -> Result<()> {
        self.transport
            .write_sequence([line.as_ref(), self.framing.delimiter.as_slice()])
    }

    /// Delivers what follows to `raw_data_received` instead of splitting it
    /// into lines (Twisted's `setRawMode`); from inside `line_received`,
    /// the rest of what was received goes there at once.
    pub fn set_raw_mode(&mut self) {
        self.framing.line_mode = false;
    }

    /// Splits what follows into lines again (Twisted's `setLineMode`).
    /// `extra` is data to handle first, in line mode: from inside
    /// `raw_data_received`, the part of the raw data that belongs to the
    /// lines (empty otherwise).
    pub fn set_line_mode(&mut self, extra: &[u8]) {
        self.framing.line_mode = true;
        self.framing.buf.extend_from_slice(extra);
    }

    /// Whether it is in line mode.
    pub fn is_line_mode(&self) -> bool {
        self.framing.line_mode
    }

    /// Takes what was received and not handled yet (Twisted's
    /// `clearLineBuffer`).
    pub fn clear_line_buffer(&mut self) -> Vec<u8> {
        let start = self.framing.start.min(self.framing.buf.len());
        let rest = self.framing.buf.split_off(start);
        self.framing.buf.clear();
        self.framing.start = 0;
        rest
    }

    /// The delimiter.
    pub fn delimiter(&self) -> &[u8] {
        &self.framing.delimiter
    }

    /// The longest line accepted (Twisted's `MAX_LENGTH`).
    pub fn max_length(&self) -> usize {
        self.framing.max_length
    }

    /// Changes the longest line accepted.
    pub fn set_max_length(&mut self, max: usize) {
        self.framing.max_length = max;
    }

    /// The plain reactor context.
    pub fn ctx(&mut self) -> Ctx<'_, S> {
        Ctx {
            reactor: self.reactor,
            state: &mut *self.state,
        }
    }
}

impl<S: 'static> fmt::Debug for LineCtx<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LineCtx")
            .field("transport", self.transport)
            .field("line_mode", &self.framing.line_mode)
            .finish()
    }
}

/// A line-based protocol, run by a [`LineReceiver`] (Twisted: the methods a
/// `LineReceiver` subclass overrides).
///
/// ```
/// use tx0mq_net::basic::{LineCtx, LineProtocol, LineReceiver};
///
/// /// Answers each line with its length.
/// struct Lengths;
///
/// impl LineProtocol for Lengths {
///     fn line_received(&mut self, cx: &mut LineCtx<'_>, line: &[u8]) {
///         if let Err(e) = cx.send_line(line.len().to_string()) {
///             log::warn!("{e}");
///         }
///     }
/// }
///
/// let protocol = LineReceiver::new(Lengths).delimiter(b"\n");
/// # let _ = protocol;
/// ```
pub trait LineProtocol<S: 'static = ()>: 'static {
    /// The connection is made (`connectionMade`).
    fn connection_made(&mut self, _cx: &mut LineCtx<'_, S>) {}

    /// A line arrived, without its delimiter (`lineReceived`).
    fn line_received(&mut self, cx: &mut LineCtx<'_, S>, line: &[u8]);

    /// Data arrived in raw mode (`rawDataReceived`). The default logs an
    /// error and drops it: a protocol that calls `set_raw_mode` implements
    /// this.
    fn raw_data_received(&mut self, cx: &mut LineCtx<'_, S>, data: &[u8]) {
        log::error!(
            "{:?}: {} bytes received in raw mode, but the protocol has no \
             raw_data_received; dropped",
            cx.transport,
            data.len()
        );
    }

    /// A line longer than the maximum arrived, or that much data without a
    /// delimiter (`lineLengthExceeded`); `line` is everything buffered from
    /// its start, delimiter and later data included. The default logs an
    /// error and closes the connection, as Twisted does (without the log).
    fn line_length_exceeded(&mut self, cx: &mut LineCtx<'_, S>, line: &[u8]) {
        log::error!(
            "{:?}: a line of more than {} bytes (the maximum) arrived ({} bytes buffered); \
             closing the connection",
            cx.transport,
            cx.max_length(),
            line.len()
        );
        cx.transport.lose_connection();
    }

    /// The peer closed its end for writing; see
    /// [`Protocol::read_connection_lost`]. A last line without a delimiter
    /// is not delivered, as in Twisted.
    fn read_connection_lost(&mut self, _cx: &mut LineCtx<'_, S>) -> AfterEof {
        AfterEof::Close
    }

    /// See [`Protocol::write_connection_lost`].
    fn write_connection_lost(&mut self, _cx: &mut LineCtx<'_, S>) {}

    /// The connection is gone (`connectionLost`).
    fn connection_lost(&mut self, _cx: &mut LineCtx<'_, S>, _reason: &Reason) {}
}

/// Splits a byte stream into lines for a [`LineProtocol`] (Twisted's
/// `LineReceiver`), and is the [`Protocol`] a transport runs.
///
/// Lines end with the delimiter (default `\r\n`, [`DELIMITER`](Self::DELIMITER));
/// a line longer than [`MAX_LENGTH`](Self::MAX_LENGTH) bytes (16,384, as
/// Twisted's) goes to `line_length_exceeded`, which closes the connection by
/// default. In raw mode (`cx.set_raw_mode()`) data goes to
/// `raw_data_received` as it comes; `cx.set_line_mode(extra)` switches
/// back. Once the transport is disconnecting, the lines still buffered are
/// not delivered; while it is paused (`pause_producing`), they wait, and are
/// delivered when it resumes.
///
/// ```
/// use tx0mq_net::basic::{LineCtx, LineProtocol, LineReceiver};
/// use tx0mq_net::testing::StringTransport;
/// use tx0mq_reactor::Reactor;
///
/// struct Shout;
/// impl LineProtocol for Shout {
///     fn line_received(&mut self, cx: &mut LineCtx<'_>, line: &[u8]) {
///         let _ = cx.send_line(line.to_ascii_uppercase());
///     }
/// }
///
/// let reactor = Reactor::builder().fake_clock().handle_signals(false).build()?;
/// let tr = StringTransport::connect(&reactor, LineReceiver::new(Shout))?;
/// tr.data_received(b"hello\r\nwor")?;
/// tr.data_received(b"ld\r\n")?;
/// assert_eq!(tr.value(), b"HELLO\r\nWORLD\r\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct LineReceiver<P> {
    inner: P,
    framing: LineFraming,
    /// The current line, copied out of the buffer so the protocol may touch
    /// the framing while it reads the line.
    line: Vec<u8>,
}

impl<P> fmt::Debug for LineReceiver<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LineReceiver")
            .field("delimiter", &self.framing.delimiter)
            .field("max_length", &self.framing.max_length)
            .field("line_mode", &self.framing.line_mode)
            .field("buffered", &(self.framing.buf.len() - self.framing.start))
            .finish()
    }
}

impl<P> LineReceiver<P> {
    /// Twisted's default `MAX_LENGTH`.
    pub const MAX_LENGTH: usize = 16384;
    /// Twisted's default `delimiter`.
    pub const DELIMITER: &'static [u8] = b"\r\n";

    /// Runs `inner` with the default delimiter and maximum line length.
    pub fn new(inner: P) -> Self {
        LineReceiver {
            inner,
            framing: LineFraming {
                buf: Vec::new(),
                start: 0,
                delimiter: Self::DELIMITER.to_vec(),
                max_length: Self::MAX_LENGTH,
                line_mode: true,
            },
            line: Vec::new(),
        }
    }

    /// Sets the delimiter (`b"\n"` for Unix text; an empty delimiter never
    /// matches, so every line ends up exceeding the maximum).
    pub fn delimiter(mut self, delimiter: impl Into<Vec<u8>>) -> Self {
        self.framing.delimiter = delimiter.into();
        self
    }

    /// Sets the longest line accepted.
    pub fn max_length(mut self, max: usize) -> Self {
        self.framing.max_length = max;
        self
    }

    /// The line protocol.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// The line protocol, mutably.
    pub fn inner_mut(&mut self) -> &mut P {
        &mut self.inner
    }

    /// The line protocol, taken back.
    pub fn into_inner(self) -> P {
        self.inner
    }
}

impl<P> LineReceiver<P> {
    /// Calls `f` on the line protocol with a [`LineCtx`].
    fn with<S: 'static, R>(
        &mut self,
        cx: &mut NetCtx<'_, S>,
        f: impl FnOnce(&mut P, &mut LineCtx<'_, S>) -> R,
    ) -> R {
        let mut lcx = LineCtx {
            reactor: cx.reactor,
            state: &mut *cx.state,
            transport: cx.transport,
            framing: &mut self.framing,
        };
        f(&mut self.inner, &mut lcx)
    }

    /// Appends `data` and delivers every whole line (or the raw data), until
    /// the buffer is used up, the transport pauses or disconnects.
    fn receive<S: 'static>(&mut self, cx: &mut NetCtx<'_, S>, data: &[u8])
    where
        P: LineProtocol<S>,
    {
        self.framing.buf.extend_from_slice(data);
        loop {
            if self.framing.start >= self.framing.buf.len() || cx.transport.is_reading_paused() {
                break;
            }
            if !self.framing.line_mode {
                // Raw: hand over the rest as it is; what the protocol gives
                // back with set_line_mode(extra) lands in the emptied buffer.
                let mut raw = std::mem::take(&mut self.framing.buf);
                let start = std::mem::take(&mut self.framing.start);
                let data = raw.get(start..).unwrap_or_default();
                self.with(cx, |p, lcx| p.raw_data_received(lcx, data));
                if self.framing.buf.is_empty() {
                    raw.clear();
                    self.framing.buf = raw; // keep the allocation
                }
                continue;
            }
            let rest = self
                .framing
                .buf
                .get(self.framing.start..)
                .unwrap_or_default();
            let max = self.framing.max_length;
            match find(rest, &self.framing.delimiter) {
                Some(end) if end <= max => {
                    self.line.clear();
                    self.line.extend_from_slice(&rest[..end]);
                    self.framing.start += end + self.framing.delimiter.len();
                    let mut line = std::mem::take(&mut self.line);
                    self.with(cx, |p, lcx| p.line_received(lcx, &line));
                    line.clear();
                    self.line = line;
                    if cx.transport.is_disconnecting() {
                        break;
                    }
                }
                Some(_) => {
                    self.exceeded(cx);
                    break;
                }
                None if rest.len() > max => {
                    self.exceeded(cx);
                    break;
                }
                None => break,
            }
        }
        if self.framing.start > 0 {
            let start = self.framing.start.min(self.framing.buf.len());
            self.framing.buf.drain(..start);
            self.framing.start = 0;
        }
    }

    /// Hands everything buffered to `line_length_exceeded`, emptying it.
    fn exceeded<S: 'static>(&mut self, cx: &mut NetCtx<'_, S>)
    where
        P: LineProtocol<S>,
    {
        let start = self.framing.start.min(self.framing.buf.len());
        let exceeded = self.framing.buf.split_off(start);
        self.framing.buf.clear();
        self.framing.start = 0;
        self.with(cx, |p, lcx| p.line_length_exceeded(lcx, &exceeded));
    }
}

impl<S: 'static, P: LineProtocol<S>> Protocol<S> for LineReceiver<P> {
    fn connection_made(&mut self, cx: &mut NetCtx<'_, S>) {
        self.with(cx, |p, lcx| p.connection_made(lcx));
    }

    fn data_received(&mut self, cx: &mut NetCtx<'_, S>, data: &[u8]) {
        self.receive(cx, data);
    }

    fn reading_resumed(&mut self, cx: &mut NetCtx<'_, S>) {
        self.receive(cx, &[]);
    }

    fn read_connection_lost(&mut self, cx: &mut NetCtx<'_, S>) -> AfterEof {
        self.with(cx, |p, lcx| p.read_connection_lost(lcx))
    }

    fn write_connection_lost(&mut self, cx: &mut NetCtx<'_, S>) {
        self.with(cx, |p, lcx| p.write_connection_lost(lcx));
    }

    fn connection_lost(&mut self, cx: &mut NetCtx<'_, S>, reason: &Reason) {
        self.with(cx, |p, lcx| p.connection_lost(lcx, reason));
    }
}

// ---------------------------------------------------------------------------
// Length-prefixed strings

/// What a [`StringProtocol`]'s callbacks get: reactor, state, transport,
/// and the receiver's limit.
pub struct StringCtx<'a, S: 'static = ()> {
    /// The reactor.
    pub reactor: &'a Reactor<S>,
    /// The application state.
    pub state: &'a mut S,
    /// The connection.
    pub transport: &'a Transport<S>,
    max_length: &'a mut usize,
}

impl<S: 'static> StringCtx<'_, S> {
    /// Writes `string` with its 4-byte big-endian length before it
    /// (Twisted's `sendString`).
    ///
    /// # Errors
    ///
    /// [`Error::StringTooLong`] past 2^32 - 1 bytes; else as for
    /// [`Transport::write`].
    pub fn send_string(&self, string: impl AsRef<[u8]>) -> Result<()> {
        send_int32_string(self.transport, string.as_ref())
    }

    /// The longest string accepted (Twisted's `MAX_LENGTH`).
    pub fn max_length(&self) -> usize {
        *self.max_length
    }

    /// Changes the longest string accepted.
    pub fn set_max_length(&mut self, max: usize) {
        *self.max_length = max;
    }

    /// The plain reactor context.
    pub fn ctx(&mut self) -> Ctx<'_, S> {
        Ctx {
            reactor: self.reactor,
            state: &mut *self.state,
        }
    }
}

impl<S: 'static> fmt::Debug for StringCtx<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StringCtx")
            .field("transport", self.transport)
            .finish()
    }
}

/// Writes `string` on `transport` with a 4-byte big-endian length prefix:
/// what [`StringCtx::send_string`] does, for a transport held elsewhere.
///
/// # Errors
///
/// As for [`StringCtx::send_string`].
pub fn send_int32_string<S: 'static>(transport: &Transport<S>, string: &[u8]) -> Result<()> {
    let len = u32::try_from(string.len()).map_err(|_| Error::StringTooLong {
        len: string.len(),
        max: u32::MAX as usize,
    })?;
    transport.write_sequence([&len.to_be_bytes()[..], string])
}

/// A protocol of length-prefixed strings, run by an
/// [`Int32StringReceiver`] (Twisted: an `Int32StringReceiver` subclass).
pub trait StringProtocol<S: 'static = ()>: 'static {
    /// The connection is made.
    fn connection_made(&mut self, _cx: &mut StringCtx<'_, S>) {}

    /// A whole string arrived, without its prefix (`stringReceived`).
    fn string_received(&mut self, cx: &mut StringCtx<'_, S>, string: &[u8]);

    /// A prefix announced more than the maximum (`lengthLimitExceeded`).
    /// The default logs an error and closes the connection, as Twisted does
    /// (without the log); nothing more is read from this connection.
    fn length_limit_exceeded(&mut self, cx: &mut StringCtx<'_, S>, length: usize) {
        log::error!(
            "{:?}: a string of {length} bytes announced, more than the maximum {}; \
             closing the connection",
            cx.transport,
            cx.max_length()
        );
        cx.transport.lose_connection();
    }

    /// See [`Protocol::read_connection_lost`].
    fn read_connection_lost(&mut self, _cx: &mut StringCtx<'_, S>) -> AfterEof {
        AfterEof::Close
    }

    /// See [`Protocol::write_connection_lost`].
    fn write_connection_lost(&mut self, _cx: &mut StringCtx<'_, S>) {}

    /// The connection is gone.
    fn connection_lost(&mut self, _cx: &mut StringCtx<'_, S>, _reason: &Reason) {}
}

/// Splits a byte stream into strings, each after its 4-byte big-endian
/// length, for a [`StringProtocol`] (Twisted's `Int32StringReceiver`).
///
/// A length above [`MAX_LENGTH`](Self::MAX_LENGTH) (99,999, as Twisted's)
/// goes to `length_limit_exceeded`, which closes the connection by default;
/// nothing past that prefix is read. Strings are delivered while the
/// transport is neither paused nor disconnecting (as `LineReceiver` stops
/// at a disconnect; Twisted's `Int32StringReceiver` would go on).
///
/// ```
/// use tx0mq_net::basic::{Int32StringReceiver, StringCtx, StringProtocol};
/// use tx0mq_net::testing::StringTransport;
/// use tx0mq_reactor::Reactor;
///
/// struct Reverse;
/// impl StringProtocol for Reverse {
///     fn string_received(&mut self, cx: &mut StringCtx<'_>, string: &[u8]) {
///         let reversed: Vec<u8> = string.iter().rev().copied().collect();
///         let _ = cx.send_string(reversed);
///     }
/// }
///
/// let reactor = Reactor::builder().fake_clock().handle_signals(false).build()?;
/// let tr = StringTransport::connect(&reactor, Int32StringReceiver::new(Reverse))?;
/// tr.data_received(b"\0\0\0\x03abc\0\0")?;
/// assert_eq!(tr.value(), b"\0\0\0\x03cba");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Int32StringReceiver<P> {
    inner: P,
    buf: Vec<u8>,
    start: usize,
    max_length: usize,
    /// A length past the maximum was announced: nothing more is parsed.
    broken: bool,
}

impl<P> fmt::Debug for Int32StringReceiver<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Int32StringReceiver")
            .field("max_length", &self.max_length)
            .field("buffered", &(self.buf.len() - self.start))
            .finish()
    }
}

/// The prefix's size.
const PREFIX: usize = 4;

impl<P> Int32StringReceiver<P> {
    /// Twisted's default `MAX_LENGTH`.
    pub const MAX_LENGTH: usize = 99_999;

    /// Runs `inner` with the default maximum length.
    pub fn new(inner: P) -> Self {
        Int32StringReceiver {
            inner,
            buf: Vec::new(),
            start: 0,
            max_length: Self::MAX_LENGTH,
            broken: false,
        }
    }

    /// Sets the longest string accepted.
    pub fn max_length(mut self, max: usize) -> Self {
        self.max_length = max;
        self
    }

    /// The string protocol.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// The string protocol, mutably.
    pub fn inner_mut(&mut self) -> &mut P {
        &mut self.inner
    }

    /// The string protocol, taken back.
    pub fn into_inner(self) -> P {
        self.inner
    }
}

impl<P> Int32StringReceiver<P> {
    fn with<S: 'static, R>(
        &mut self,
        cx: &mut NetCtx<'_, S>,
        f: impl FnOnce(&mut P, &mut StringCtx<'_, S>) -> R,
    ) -> R {
        let mut scx = StringCtx {
            reactor: cx.reactor,
            state: &mut *cx.state,
            transport: cx.transport,
            max_length: &mut self.max_length,
        };
        f(&mut self.inner, &mut scx)
    }

    fn receive<S: 'static>(&mut self, cx: &mut NetCtx<'_, S>, data: &[u8])
    where
        P: StringProtocol<S>,
    {
        if self.broken {
            return;
        }
        self.buf.extend_from_slice(data);
        while !cx.transport.is_reading_paused() && !cx.transport.is_disconnecting() {
            let rest = self.buf.get(self.start..).unwrap_or_default();
            let Some(prefix) = rest.first_chunk::<PREFIX>() else {
                break;
            };
            let length = u32::from_be_bytes(*prefix) as usize;
            let end = PREFIX.checked_add(length);
            if length > self.max_length || end.is_none() {
                self.broken = true;
                self.buf = Vec::new();
                self.start = 0;
                self.with(cx, |p, scx| p.length_limit_exceeded(scx, length));
                return;
            }
            let Some(string) = end.and_then(|end| rest.get(PREFIX..end)) else {
                break;
            };
            let string = string.to_vec();
            self.start += PREFIX + string.len();
            self.with(cx, |p, scx| p.string_received(scx, &string));
        }
        if self.start > 0 {
            let start = self.start.min(self.buf.len());
            self.buf.drain(..start);
            self.start = 0;
        }
    }
}

impl<S: 'static, P: StringProtocol<S>> Protocol<S> for Int32StringReceiver<P> {
    fn connection_made(&mut self, cx: &mut NetCtx<'_, S>) {
        self.with(cx, |p, scx| p.connection_made(scx));
    }

    fn data_received(&mut self, cx: &mut NetCtx<'_, S>, data: &[u8]) {
        self.receive(cx, data);
    }

    fn reading_resumed(&mut self, cx: &mut NetCtx<'_, S>) {
        self.receive(cx, &[]);
    }

    fn read_connection_lost(&mut self, cx: &mut NetCtx<'_, S>) -> AfterEof {
        self.with(cx, |p, scx| p.read_connection_lost(scx))
    }

    fn write_connection_lost(&mut self, cx: &mut NetCtx<'_, S>) {
        self.with(cx, |p, scx| p.write_connection_lost(scx));
    }

    fn connection_lost(&mut self, cx: &mut NetCtx<'_, S>, reason: &Reason) {
        self.with(cx, |p, scx| p.connection_lost(scx, reason));
    }
}

#[cfg(test)]
mod tests {
    use super::find;

    #[test]
    fn find_locates_one_and_two_byte_delimiters_and_never_an_empty_one() {
        assert_eq!(find(b"ab\ncd", b"\n"), Some(2));
        assert_eq!(find(b"ab\rcd\r\n", b"\r\n"), Some(5));
        assert_eq!(find(b"abc", b"\r\n"), None);
        assert_eq!(find(b"abc", b""), None);
        assert_eq!(find(b"", b"\n"), None);
    }
}
