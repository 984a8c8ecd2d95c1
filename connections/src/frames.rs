//! Frames and multipart messages, and the conversions `send` accepts.

use std::fmt::Write;

/// One ZeroMQ frame: libzmq's message, which derefs to `[u8]`.
///
/// Received frames are handed over as libzmq gave them, without a copy.
pub type Frame = zmq::Message;

/// A multipart message: its frames, in order.
pub type Multipart = Vec<Frame>;

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
}

macro_rules! single_frame {
    ($($t:ty),*) => {$(
        impl IntoMultipart for $t {
            fn into_multipart(self) -> Multipart {
                vec![Frame::from(self)]
            }
        }
    )*};
}

single_frame!(&[u8], &str, Vec<u8>, &String, &Vec<u8>);

impl IntoMultipart for String {
    fn into_multipart(self) -> Multipart {
        vec![Frame::from(self.into_bytes())]
    }
}

impl IntoMultipart for Frame {
    fn into_multipart(self) -> Multipart {
        vec![self]
    }
}

impl<const N: usize> IntoMultipart for &[u8; N] {
    fn into_multipart(self) -> Multipart {
        vec![Frame::from(&self[..])]
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
