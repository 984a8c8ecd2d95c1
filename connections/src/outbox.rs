//! A connection's outbox: whole messages libzmq could not take yet, bounded
//! by a message count and a byte total.

use std::collections::VecDeque;

use crate::frames::Multipart;

/// Messages waiting for POLLOUT, in order, with their byte total.
pub(crate) struct Outbox {
    queue: VecDeque<Multipart>,
    bytes: usize,
    limit: usize,
    byte_limit: usize,
    /// The most messages queued at once.
    high_mark: usize,
}

/// Why a message could not be queued: the counts at the time.
pub(crate) struct Full {
    pub(crate) messages: usize,
    pub(crate) bytes: usize,
    pub(crate) limit: usize,
    pub(crate) byte_limit: usize,
}

impl Outbox {
    pub(crate) fn new(limit: usize, byte_limit: usize) -> Self {
        Outbox {
            queue: VecDeque::new(),
            bytes: 0,
            limit,
            byte_limit,
            high_mark: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// The most messages the outbox has held at once.
    pub(crate) fn high_mark(&self) -> usize {
        self.high_mark
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Queues `message` at the back, unless that would pass either limit
    /// (a single message larger than the byte limit is refused too, unless
    /// the outbox is empty: a message must be able to wait alone).
    pub(crate) fn push_back(&mut self, message: Multipart) -> Result<(), Full> {
        let size = message.byte_len();
        let over_bytes =
            !self.queue.is_empty() && self.bytes.saturating_add(size) > self.byte_limit;
        if self.queue.len() >= self.limit || over_bytes {
            return Err(Full {
                messages: self.queue.len(),
                bytes: self.bytes,
                limit: self.limit,
                byte_limit: self.byte_limit,
            });
        }
        self.bytes += size;
        self.queue.push_back(message);
        self.high_mark = self.high_mark.max(self.queue.len());
        Ok(())
    }

    /// Puts back at the head a message of `size` bytes that was popped but
    /// not sent.
    pub(crate) fn push_front(&mut self, message: Multipart, size: usize) {
        self.bytes += size;
        self.queue.push_front(message);
    }

    /// The message at the head, with its size in bytes.
    pub(crate) fn pop_front(&mut self) -> Option<(Multipart, usize)> {
        let message = self.queue.pop_front()?;
        let size = message.byte_len();
        self.bytes -= size;
        Some((message, size))
    }

    /// Drops the queued messages for which `dead` says so; returns how many.
    pub(crate) fn remove_where(&mut self, dead: impl Fn(&Multipart) -> bool) -> usize {
        let before = self.queue.len();
        let mut bytes = self.bytes;
        self.queue.retain(|message| {
            let keep = !dead(message);
            if !keep {
                bytes -= message.byte_len();
            }
            keep
        });
        self.bytes = bytes;
        before - self.queue.len()
    }

    /// Empties the outbox; returns how many messages were in it.
    pub(crate) fn clear(&mut self) -> usize {
        let dropped = self.queue.len();
        self.queue.clear();
        self.bytes = 0;
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(len: usize) -> Multipart {
        Multipart::from(vec![crate::Frame::from(vec![0u8; len])])
    }

    #[test]
    fn bytes_are_counted_in_and_out() {
        let mut outbox = Outbox::new(10, 1000);
        assert!(outbox.push_back(message(100)).is_ok());
        assert!(outbox.push_back(message(200)).is_ok());
        assert_eq!(outbox.bytes(), 300);
        let (first, size) = outbox.pop_front().unwrap();
        assert_eq!((outbox.bytes(), size), (200, 100));
        outbox.push_front(first, size);
        assert_eq!((outbox.len(), outbox.bytes()), (2, 300));
        assert_eq!(outbox.high_mark(), 2);
        assert_eq!(outbox.remove_where(|m| m[0].len() == 100), 1);
        assert_eq!((outbox.len(), outbox.bytes()), (1, 200));
        assert_eq!(outbox.clear(), 1);
        assert_eq!(outbox.bytes(), 0);
        assert_eq!(outbox.high_mark(), 2, "the high mark stays");
    }

    #[test]
    fn either_limit_refuses_and_a_lone_message_may_exceed_the_byte_limit() {
        let mut outbox = Outbox::new(2, 150);
        assert!(outbox.push_back(message(400)).is_ok(), "alone, it may wait");
        let full = outbox.push_back(message(1)).err().unwrap();
        assert_eq!((full.messages, full.bytes, full.byte_limit), (1, 400, 150));
        outbox.clear();
        assert!(outbox.push_back(message(1)).is_ok());
        assert!(outbox.push_back(message(1)).is_ok());
        let full = outbox.push_back(message(1)).err().unwrap();
        assert_eq!((full.messages, full.limit), (2, 2));
    }
}
