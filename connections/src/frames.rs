//! Frames and multipart messages, and the conversions `send` accepts.

use std::fmt::Write;

/// One ZeroMQ frame: libzmq's message, which derefs to `[u8]`.
///
/// Received frames are handed over as libzmq gave them, without a copy.
pub type Frame = zmq::Message;

/// A multipart message: its frames, in order.
///
/// It works like a `Vec<Frame>` (it derefs to `[Frame]`, and has `push`,
/// `pop`, `insert`, `remove`, `drain`, ...), but keeps a single frame inline,
/// so the most common message, one frame, costs no allocation on its way
/// from libzmq to a protocol or from `send` to libzmq.
///
/// ```
/// use tx0mq_connections::{Frame, Multipart};
///
/// let mut message = Multipart::from(Frame::from("body"));
/// message.insert(0, Frame::from(""));
/// message.insert(0, Frame::from("id"));
/// assert_eq!(message.len(), 3);
/// assert_eq!(&message[0][..], b"id");
/// let body = message.pop();
/// assert_eq!(body.as_deref(), Some(&b"body"[..]));
/// let frames: Vec<Frame> = message.into();
/// assert_eq!(frames, [Frame::from("id"), Frame::from("")]);
/// ```
pub struct Multipart {
    repr: Repr,
}

enum Repr {
    One(Frame),
    Many(Vec<Frame>),
}

impl Multipart {
    /// An empty message (no allocation).
    pub fn new() -> Self {
        Multipart {
            repr: Repr::Many(Vec::new()),
        }
    }

    /// An empty message with room for `capacity` frames.
    pub fn with_capacity(capacity: usize) -> Self {
        Multipart {
            repr: Repr::Many(Vec::with_capacity(capacity)),
        }
    }

    /// The frames as a `Vec`, moving a lone inline frame out to the heap.
    fn vec_mut(&mut self) -> &mut Vec<Frame> {
        if let Repr::One(_) = self.repr {
            let mut frames = Vec::with_capacity(4);
            if let Repr::One(frame) = std::mem::replace(&mut self.repr, Repr::Many(Vec::new())) {
                frames.push(frame);
            }
            self.repr = Repr::Many(frames);
        }
        match &mut self.repr {
            Repr::Many(frames) => frames,
            Repr::One(_) => unreachable!("a lone frame was moved to the heap above"),
        }
    }

    /// Appends a frame.
    pub fn push(&mut self, frame: impl IntoFrame) {
        let frame = frame.into_frame();
        match &mut self.repr {
            Repr::Many(frames) if frames.is_empty() && frames.capacity() == 0 => {
                self.repr = Repr::One(frame);
            }
            _ => self.vec_mut().push(frame),
        }
    }

    /// Removes and returns the last frame.
    pub fn pop(&mut self) -> Option<Frame> {
        match std::mem::replace(&mut self.repr, Repr::Many(Vec::new())) {
            Repr::One(frame) => Some(frame),
            Repr::Many(mut frames) => {
                let last = frames.pop();
                self.repr = Repr::Many(frames);
                last
            }
        }
    }

    /// Inserts a frame at `index`, shifting the later ones.
    ///
    /// Panics if `index > len`, as `Vec::insert` does.
    pub fn insert(&mut self, index: usize, frame: impl IntoFrame) {
        self.vec_mut().insert(index, frame.into_frame());
    }

    /// Removes and returns the frame at `index`, shifting the later ones.
    ///
    /// Panics if `index` is out of bounds, as `Vec::remove` does.
    pub fn remove(&mut self, index: usize) -> Frame {
        self.vec_mut().remove(index)
    }

    /// Keeps the first `len` frames.
    pub fn truncate(&mut self, len: usize) {
        if len < self.len() {
            self.vec_mut().truncate(len);
        }
    }

    /// Removes every frame.
    pub fn clear(&mut self) {
        self.truncate(0);
    }

    /// Removes the frames in `range` and yields them, as `Vec::drain`.
    pub fn drain<R: std::ops::RangeBounds<usize>>(
        &mut self,
        range: R,
    ) -> std::vec::Drain<'_, Frame> {
        self.vec_mut().drain(range)
    }

    /// Splits off the frames from `at` on, as `Vec::split_off`.
    pub fn split_off(&mut self, at: usize) -> Multipart {
        Multipart::from(self.vec_mut().split_off(at))
    }

    /// The frames as a `Vec`.
    pub fn into_vec(self) -> Vec<Frame> {
        match self.repr {
            Repr::One(frame) => vec![frame],
            Repr::Many(frames) => frames,
        }
    }
}

impl Default for Multipart {
    fn default() -> Self {
        Multipart::new()
    }
}

impl Multipart {
    /// The bytes of all its frames. Each frame's size costs two calls into
    /// libzmq (`zmq_msg_data` and `zmq_msg_size`, through rust-zmq's `Deref`).
    #[inline]
    pub(crate) fn byte_len(&self) -> usize {
        match &self.repr {
            Repr::One(frame) => frame.len(),
            Repr::Many(frames) => frames.iter().map(|frame| frame.len()).sum(),
        }
    }
}

impl std::ops::Deref for Multipart {
    type Target = [Frame];

    fn deref(&self) -> &[Frame] {
        match &self.repr {
            Repr::One(frame) => std::slice::from_ref(frame),
            Repr::Many(frames) => frames,
        }
    }
}

impl std::ops::DerefMut for Multipart {
    fn deref_mut(&mut self) -> &mut [Frame] {
        match &mut self.repr {
            Repr::One(frame) => std::slice::from_mut(frame),
            Repr::Many(frames) => frames,
        }
    }
}

impl std::fmt::Debug for Multipart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl From<Frame> for Multipart {
    fn from(frame: Frame) -> Self {
        Multipart {
            repr: Repr::One(frame),
        }
    }
}

impl From<Vec<Frame>> for Multipart {
    fn from(frames: Vec<Frame>) -> Self {
        Multipart {
            repr: Repr::Many(frames),
        }
    }
}

impl From<Multipart> for Vec<Frame> {
    fn from(message: Multipart) -> Self {
        message.into_vec()
    }
}

impl<T: IntoFrame> FromIterator<T> for Multipart {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut iter = iter.into_iter().map(IntoFrame::into_frame);
        let Some(first) = iter.next() else {
            return Multipart::new();
        };
        match iter.next() {
            None => Multipart::from(first),
            Some(second) => {
                let mut frames = Vec::with_capacity(2 + iter.size_hint().0);
                frames.push(first);
                frames.push(second);
                frames.extend(iter);
                Multipart::from(frames)
            }
        }
    }
}

impl<T: IntoFrame> Extend<T> for Multipart {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        for frame in iter {
            self.push(frame);
        }
    }
}

impl PartialEq for Multipart {
    fn eq(&self, other: &Multipart) -> bool {
        self[..] == other[..]
    }
}

impl Eq for Multipart {}

impl<T> PartialEq<[T]> for Multipart
where
    Frame: PartialEq<T>,
{
    fn eq(&self, other: &[T]) -> bool {
        self[..] == *other
    }
}

impl<T, const N: usize> PartialEq<[T; N]> for Multipart
where
    Frame: PartialEq<T>,
{
    fn eq(&self, other: &[T; N]) -> bool {
        self[..] == other[..]
    }
}

impl<T> PartialEq<Vec<T>> for Multipart
where
    Frame: PartialEq<T>,
{
    fn eq(&self, other: &Vec<T>) -> bool {
        self[..] == other[..]
    }
}

/// The owning iterator over a [`Multipart`]'s frames.
pub struct IntoIter {
    inner: IntoIterInner,
}

enum IntoIterInner {
    One(Option<Frame>),
    Many(std::vec::IntoIter<Frame>),
}

impl Iterator for IntoIter {
    type Item = Frame;

    fn next(&mut self) -> Option<Frame> {
        match &mut self.inner {
            IntoIterInner::One(frame) => frame.take(),
            IntoIterInner::Many(frames) => frames.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match &self.inner {
            IntoIterInner::One(frame) => {
                let n = usize::from(frame.is_some());
                (n, Some(n))
            }
            IntoIterInner::Many(frames) => frames.size_hint(),
        }
    }
}

impl DoubleEndedIterator for IntoIter {
    fn next_back(&mut self) -> Option<Frame> {
        match &mut self.inner {
            IntoIterInner::One(frame) => frame.take(),
            IntoIterInner::Many(frames) => frames.next_back(),
        }
    }
}

impl ExactSizeIterator for IntoIter {}

impl IntoIterator for Multipart {
    type Item = Frame;
    type IntoIter = IntoIter;

    fn into_iter(self) -> IntoIter {
        IntoIter {
            inner: match self.repr {
                Repr::One(frame) => IntoIterInner::One(Some(frame)),
                Repr::Many(frames) => IntoIterInner::Many(frames.into_iter()),
            },
        }
    }
}

impl<'a> IntoIterator for &'a Multipart {
    type Item = &'a Frame;
    type IntoIter = std::slice::Iter<'a, Frame>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a> IntoIterator for &'a mut Multipart {
    type Item = &'a mut Frame;
    type IntoIter = std::slice::IterMut<'a, Frame>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

impl IntoMultipart for Multipart {
    fn into_multipart(self) -> Multipart {
        self
    }
}

/// Builds a [`Multipart`] from frames of any [`IntoFrame`] type, as `vec!`
/// builds a `Vec`.
///
/// ```
/// use tx0mq_connections::multipart;
///
/// let message = multipart![b"id", "", b"body".to_vec()];
/// assert_eq!(message.len(), 3);
/// assert!(multipart![].is_empty());
/// ```
#[macro_export]
macro_rules! multipart {
    () => {
        $crate::Multipart::new()
    };
    ($frame:expr $(,)?) => {
        $crate::Multipart::from($crate::IntoFrame::into_frame($frame))
    };
    ($($frame:expr),+ $(,)?) => {
        $crate::Multipart::from(::std::vec![$($crate::IntoFrame::into_frame($frame)),+])
    };
}

/// Anything that can be sent as a message: one frame (`&[u8]`, `&str`,
/// `Vec<u8>`, `String`, [`Frame`], byte-string literals) or several (arrays,
/// slices and `Vec`s of those).
///
/// ```
/// use tx0mq_connections::IntoMultipart;
///
/// assert_eq!(b"one".into_multipart().len(), 1);
/// assert_eq!([&b"a"[..], b"", b"c"].into_multipart().len(), 3);
/// assert_eq!(vec!["x".to_string(), "y".to_string()].into_multipart().len(), 2);
/// ```
pub trait IntoMultipart {
    /// The frames.
    fn into_multipart(self) -> Multipart;

    /// The bytes, when `self` is one frame held as plain bytes. A send then
    /// hands them to libzmq, which copies them once, and makes a [`Frame`]
    /// only if the message has to wait in the outbox.
    ///
    /// ```
    /// use tx0mq_connections::{Frame, IntoMultipart};
    ///
    /// assert_eq!("hi".single_frame_bytes(), Some(&b"hi"[..]));
    /// assert_eq!([&b"a"[..], b"b"].single_frame_bytes(), None);
    /// assert_eq!(Frame::from("owned").single_frame_bytes(), None);
    /// ```
    fn single_frame_bytes(&self) -> Option<&[u8]> {
        None
    }
}

macro_rules! single_frame {
    ($($t:ty),*) => {$(
        impl IntoMultipart for $t {
            fn into_multipart(self) -> Multipart {
                Multipart::from(Frame::from(self))
            }

            fn single_frame_bytes(&self) -> Option<&[u8]> {
                Some(self.as_ref())
            }
        }
    )*};
}

single_frame!(&[u8], &str, Vec<u8>, &String, &Vec<u8>);

impl IntoMultipart for String {
    fn into_multipart(self) -> Multipart {
        Multipart::from(Frame::from(self.into_bytes()))
    }

    fn single_frame_bytes(&self) -> Option<&[u8]> {
        Some(self.as_bytes())
    }
}

impl IntoMultipart for Frame {
    fn into_multipart(self) -> Multipart {
        Multipart::from(self)
    }
}

impl<const N: usize> IntoMultipart for &[u8; N] {
    fn into_multipart(self) -> Multipart {
        Multipart::from(Frame::from(&self[..]))
    }

    fn single_frame_bytes(&self) -> Option<&[u8]> {
        Some(&self[..])
    }
}

/// Frames that `send` accepts inside a list.
pub trait IntoFrame {
    /// The frame.
    fn into_frame(self) -> Frame;
}

macro_rules! frame {
    ($($t:ty),*) => {$(
        impl IntoFrame for $t {
            fn into_frame(self) -> Frame {
                Frame::from(self)
            }
        }
    )*};
}

frame!(&[u8], &str, Vec<u8>, &String, &Vec<u8>);

impl IntoFrame for String {
    fn into_frame(self) -> Frame {
        Frame::from(self.into_bytes())
    }
}

impl IntoFrame for Frame {
    fn into_frame(self) -> Frame {
        self
    }
}

impl IntoFrame for &Frame {
    fn into_frame(self) -> Frame {
        Frame::from(&self[..])
    }
}

impl<const N: usize> IntoFrame for &[u8; N] {
    fn into_frame(self) -> Frame {
        Frame::from(&self[..])
    }
}

impl<T: IntoFrame> IntoMultipart for Vec<T> {
    fn into_multipart(self) -> Multipart {
        self.into_iter().map(IntoFrame::into_frame).collect()
    }
}

impl<T: IntoFrame, const N: usize> IntoMultipart for [T; N] {
    fn into_multipart(self) -> Multipart {
        self.into_iter().map(IntoFrame::into_frame).collect()
    }
}

impl<T: IntoFrame + Clone> IntoMultipart for &[T] {
    fn into_multipart(self) -> Multipart {
        self.iter().cloned().map(IntoFrame::into_frame).collect()
    }
}

/// Bytes as Python 3 would print them: `b'...'`.
///
/// ```
/// assert_eq!(tx0mq_connections::bytes_repr(b"Hello\x00"), r"b'Hello\x00'");
/// ```
pub fn bytes_repr(bytes: &[u8]) -> String {
    let quote = if bytes.contains(&b'\'') && !bytes.contains(&b'"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(bytes.len() + 3);
    out.push('b');
    out.push(quote);
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ if b as char == quote => {
                out.push('\\');
                out.push(quote);
            }
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push(quote);
    out
}

/// Short printable form of an id or frame, for logs and errors.
pub(crate) fn escape(bytes: &[u8]) -> String {
    if bytes.len() > 64 {
        format!("{}... ({} bytes)", bytes_repr(&bytes[..64]), bytes.len())
    } else {
        bytes_repr(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(message: &Multipart) -> Vec<Vec<u8>> {
        message.iter().map(|f| f.to_vec()).collect()
    }

    #[test]
    fn a_single_frame_stays_inline_until_a_second_arrives() {
        let mut message = Multipart::new();
        assert!(message.is_empty());
        message.push("a");
        assert!(matches!(message.repr, Repr::One(_)));
        message.push("b");
        assert!(matches!(message.repr, Repr::Many(_)));
        assert_eq!(bytes(&message), [b"a".to_vec(), b"b".to_vec()]);
        assert_eq!(message.pop().as_deref(), Some(&b"b"[..]));
        assert_eq!(message.pop().as_deref(), Some(&b"a"[..]));
        assert_eq!(message.pop(), None);
        assert!(message.is_empty());
    }

    #[test]
    fn vec_operations_work_on_both_forms() {
        let mut one = Multipart::from(Frame::from("body"));
        one.insert(0, "");
        one.insert(0, b"id");
        assert_eq!(
            bytes(&one),
            [b"id".to_vec(), b"".to_vec(), b"body".to_vec()]
        );
        assert_eq!(&one.remove(1)[..], b"");
        let drained: Vec<Frame> = one.drain(..1).collect();
        assert_eq!(drained, [Frame::from("id")]);
        assert_eq!(one, [Frame::from("body")]);

        let mut many: Multipart = ["a", "b", "c", "d"].into_iter().collect();
        let tail = many.split_off(2);
        assert_eq!(bytes(&tail), [b"c".to_vec(), b"d".to_vec()]);
        many.truncate(1);
        assert_eq!(bytes(&many), [b"a".to_vec()]);
        many[0] = Frame::from("z");
        assert_eq!(many, vec![Frame::from("z")]);
        many.clear();
        assert!(many.is_empty());

        let mut lone = Multipart::from(Frame::from("x"));
        lone.truncate(0);
        assert!(lone.is_empty());
    }

    #[test]
    fn collecting_one_frame_allocates_no_vec() {
        let one: Multipart = std::iter::once("x").collect();
        assert!(matches!(one.repr, Repr::One(_)));
        let none: Multipart = std::iter::empty::<&str>().collect();
        assert!(none.is_empty());
        let three: Multipart = ["a", "b", "c"].into_iter().collect();
        assert_eq!(three.len(), 3);
        assert_eq!(crate::multipart![b"id", "", b"x".to_vec()].len(), 3);
        assert!(matches!(crate::multipart!["solo"].repr, Repr::One(_)));
    }

    #[test]
    fn owned_iteration_yields_every_frame_in_order_from_both_ends() {
        let one = Multipart::from(Frame::from("x"));
        let mut it = one.into_iter();
        assert_eq!(it.len(), 1);
        assert_eq!(it.next_back().as_deref(), Some(&b"x"[..]));
        assert_eq!(it.next(), None);

        let many: Multipart = ["a", "b", "c"].into_iter().collect();
        let mut it = many.into_iter();
        assert_eq!(it.len(), 3);
        assert_eq!(it.next_back().as_deref(), Some(&b"c"[..]));
        let rest: Vec<Vec<u8>> = it.map(|f| f.to_vec()).collect();
        assert_eq!(rest, [b"a".to_vec(), b"b".to_vec()]);
    }

    #[test]
    fn equality_and_debug_compare_frames_not_storage() {
        let inline = Multipart::from(Frame::from("x"));
        let heap = Multipart::from(vec![Frame::from("x")]);
        assert_eq!(inline, heap);
        assert_ne!(inline, Multipart::new());
        assert_eq!(inline, [Frame::from("x")]);
        assert_eq!(heap, [Frame::from("x")]);
        assert_eq!(format!("{inline:?}"), format!("{heap:?}"));
        assert_eq!(format!("{inline:?}"), "[[120]]");
        let mut extended = Multipart::new();
        extended.extend(["a", "b"]);
        assert_eq!(Vec::from(extended), [Frame::from("a"), Frame::from("b")]);
    }
}
