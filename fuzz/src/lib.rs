//! What the fuzz targets share: turning the fuzzer's bytes into a multipart
//! message, and the checks every `decode` outcome must pass.
//!
//! The input is a list of frames, each a length then that many bytes. A
//! length is one byte (0 to 254), or 255 followed by two bytes (a
//! little-endian `u16`) for longer frames. A last frame whose bytes run out
//! takes what is left, so every input is a message; at most
//! [`MAX_FRAMES`] frames are read.

use tx0mq_connections::pattern::Decoded;
use tx0mq_connections::{Frame, Multipart};

/// The most frames one input becomes.
pub const MAX_FRAMES: usize = 64;

/// The frames encoded in `data` (see the crate docs).
pub fn multipart(mut data: &[u8]) -> Multipart {
    let mut message = Multipart::new();
    while !data.is_empty() && message.len() < MAX_FRAMES {
        let (len, rest) = match data {
            [255, low, high, rest @ ..] => (usize::from(u16::from_le_bytes([*low, *high])), rest),
            [255, rest @ ..] => (0, rest),
            [len, rest @ ..] => (usize::from(*len), rest),
            [] => break,
        };
        let (frame, rest) = rest.split_at(len.min(rest.len()));
        message.push(Frame::from(frame));
        data = rest;
    }
    message
}

/// The frames of `message` as byte vectors.
pub fn frames(message: &[Frame]) -> Vec<Vec<u8>> {
    message.iter().map(|f| f.to_vec()).collect()
}

/// The event of `decoded`, if it is one. `Malformed` must give a reason.
pub fn event<E>(decoded: Decoded<E>) -> Option<E> {
    match decoded {
        Decoded::Event(event) => Some(event),
        Decoded::Consumed => None,
        Decoded::Malformed(reason) => {
            assert!(!reason.trim().is_empty(), "Malformed with no reason");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_split_frames_and_the_last_takes_what_is_left() {
        let message = multipart(b"\x02ab\x00\x05xyz");
        assert_eq!(
            frames(&message),
            [b"ab".to_vec(), Vec::new(), b"xyz".to_vec()]
        );
        assert!(multipart(b"").is_empty());
    }

    #[test]
    fn a_255_length_is_a_two_byte_length() {
        let mut data = vec![255, 0x2c, 0x01];
        data.extend(std::iter::repeat_n(7u8, 300));
        data.extend(b"\x01z");
        let message = multipart(&data);
        assert_eq!(message.len(), 2);
        assert_eq!(message[0].len(), 300);
        assert_eq!(&message[1][..], b"z");
    }
}
