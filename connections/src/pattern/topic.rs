//! txZMQ's publish framing, shared by PUB, XPUB, SUB and XSUB: one frame
//! `tag + separator + message`, and the two-frame `[tag, message]` that
//! other publishers send.

use std::cell::RefCell;
use std::rc::Rc;

use crate::frames::{escape, Frame, Multipart};

/// txZMQ's default topic separator.
pub const DEFAULT_TOPIC_SEP: &[u8] = b"\0";

/// A connection's topic separator, shared by its handles.
#[derive(Clone, Debug)]
pub(crate) struct TopicSep(Rc<RefCell<Vec<u8>>>);

impl Default for TopicSep {
    fn default() -> Self {
        TopicSep(Rc::new(RefCell::new(DEFAULT_TOPIC_SEP.to_vec())))
    }
}

impl TopicSep {
    pub(crate) fn get(&self) -> Vec<u8> {
        self.0.borrow().clone()
    }

    pub(crate) fn set(&self, sep: &[u8]) {
        *self.0.borrow_mut() = sep.to_vec();
    }

    /// The one frame txZMQ's `publish(message, tag)` sends.
    pub(crate) fn tagged(&self, tag: &[u8], message: &[u8]) -> Vec<u8> {
        let sep = self.0.borrow();
        let mut frame = Vec::with_capacity(tag.len() + sep.len() + message.len());
        frame.extend_from_slice(tag);
        frame.extend_from_slice(&sep);
        frame.extend_from_slice(message);
        frame
    }

    /// Splits a received message into `(message, tag)` the way txZMQ does,
    /// or says why it cannot.
    pub(crate) fn untag(&self, message: Multipart) -> Result<(Frame, Frame), String> {
        untag(message, &self.0.borrow())
    }
}

fn untag(mut message: Multipart, sep: &[u8]) -> Result<(Frame, Frame), String> {
    match message.len() {
        2 => {
            let body = message.pop().unwrap_or_else(Frame::new);
            let tag = message.pop().unwrap_or_else(Frame::new);
            Ok((body, tag))
        }
        1 => {
            let frame = &message[0];
            match find(frame, sep) {
                Some(at) => Ok((
                    Frame::from(&frame[at + sep.len()..]),
                    Frame::from(&frame[..at]),
                )),
                None => Err(format!(
                    "no topic separator {} in {}",
                    escape(sep),
                    escape(frame)
                )),
            }
        }
        n => Err(format!(
            "{n} frames; expected 1 (tag + separator + message) or 2 (tag, message)"
        )),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(parts: &[&[u8]]) -> Multipart {
        parts.iter().map(|p| Frame::from(*p)).collect()
    }

    #[test]
    fn one_frame_splits_at_the_first_separator() {
        let (message, tag) = untag(frames(&[b"tag\0body\0more"]), b"\0").unwrap();
        assert_eq!(&tag[..], b"tag");
        assert_eq!(&message[..], b"body\0more");
    }

    #[test]
    fn two_frames_are_tag_then_message() {
        let (message, tag) = untag(frames(&[b"tag", b"body"]), b"\0").unwrap();
        assert_eq!((&tag[..], &message[..]), (&b"tag"[..], &b"body"[..]));
    }

    #[test]
    fn no_separator_and_three_frames_are_refused_with_a_reason() {
        assert!(untag(frames(&[b"plain"]), b"\0")
            .unwrap_err()
            .contains("no topic separator"));
        assert!(untag(frames(&[b"a", b"b", b"c"]), b"\0")
            .unwrap_err()
            .contains("3 frames"));
    }

    #[test]
    fn multi_byte_separators_work() {
        let (message, tag) = untag(frames(&[b"t::m"]), b"::").unwrap();
        assert_eq!((&tag[..], &message[..]), (&b"t"[..], &b"m"[..]));
    }

    #[test]
    fn tagged_is_tag_separator_message() {
        let sep = TopicSep::default();
        assert_eq!(sep.tagged(b"t", b"m"), b"t\0m");
        sep.set(b"::");
        assert_eq!(sep.tagged(b"t", b"m"), b"t::m");
    }
}
