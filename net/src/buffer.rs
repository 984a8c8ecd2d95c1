//! A transport's write buffer: the bytes the kernel could not take yet, in
//! order, as a queue of chunks handed to `writev` a few dozen at a time.

use std::collections::VecDeque;
use std::io::IoSlice;

/// Small writes are appended to the last chunk up to this size, so a
/// stream of tiny writes does not become a queue of tiny chunks.
const COALESCE: usize = 16 * 1024;

/// How many chunks one `writev` is given at most.
pub(crate) const MAX_SLICES: usize = 64;

/// Bytes waiting for the kernel. Bounds are the transport's business: this
/// only keeps them in order.
#[derive(Default)]
pub(crate) struct WriteBuffer {
    chunks: VecDeque<Vec<u8>>,
    /// How much of the first chunk has been written already.
    head: usize,
    /// Bytes waiting, over every chunk.
    len: usize,
}

impl WriteBuffer {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `parts`, skipping their first `skip` bytes (those the kernel
    /// took already).
    pub(crate) fn push_parts(&mut self, parts: &[&[u8]], mut skip: usize) {
        for part in parts {
            if skip >= part.len() {
                skip -= part.len();
                continue;
            }
            self.push(&part[skip..]);
            skip = 0;
        }
    }

    fn push(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        self.len += data.len();
        // The first chunk may be partly written; appending to it is fine,
        // its offset stays valid.
        if let Some(last) = self.chunks.back_mut() {
            if last.len() + data.len() <= COALESCE {
                last.extend_from_slice(data);
                return;
            }
        }
        self.chunks.push_back(data.to_vec());
    }

    /// Up to [`MAX_SLICES`] slices of what waits, in order.
    pub(crate) fn slices(&self) -> Vec<IoSlice<'_>> {
        let mut slices = Vec::with_capacity(self.chunks.len().min(MAX_SLICES));
        for (i, chunk) in self.chunks.iter().take(MAX_SLICES).enumerate() {
            let start = if i == 0 { self.head } else { 0 };
            slices.push(IoSlice::new(&chunk[start..]));
        }
        slices
    }

    /// What waits, when it is one chunk: written with a plain `write`, no
    /// slice list needed.
    pub(crate) fn single(&self) -> Option<&[u8]> {
        match (self.chunks.len(), self.chunks.front()) {
            (1, Some(chunk)) => chunk.get(self.head..),
            _ => None,
        }
    }

    /// Forgets the first `n` bytes: the kernel took them.
    pub(crate) fn consume(&mut self, mut n: usize) {
        n = n.min(self.len);
        self.len -= n;
        while n > 0 {
            let Some(first) = self.chunks.front() else {
                break;
            };
            let left = first.len() - self.head;
            if n < left {
                self.head += n;
                return;
            }
            n -= left;
            self.head = 0;
            self.chunks.pop_front();
        }
        if self.chunks.is_empty() {
            self.head = 0;
        }
    }

    /// Drops everything; returns how many bytes that was.
    pub(crate) fn clear(&mut self) -> usize {
        let dropped = self.len;
        *self = WriteBuffer::default();
        dropped
    }
}

/// Up to [`MAX_SLICES`] slices of `parts` after their first `skip` bytes.
pub(crate) fn slices_after<'a>(parts: &[&'a [u8]], mut skip: usize) -> Vec<IoSlice<'a>> {
    let mut slices = Vec::with_capacity(parts.len().min(MAX_SLICES));
    for part in parts {
        if slices.len() == MAX_SLICES {
            break;
        }
        if skip >= part.len() {
            skip -= part.len();
            continue;
        }
        slices.push(IoSlice::new(&part[skip..]));
        skip = 0;
    }
    slices
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents(buffer: &WriteBuffer) -> Vec<u8> {
        buffer.slices().iter().flat_map(|s| s.to_vec()).collect()
    }

    #[test]
    fn keeps_order_across_partial_writes_and_coalesces_small_writes() {
        let mut buffer = WriteBuffer::default();
        buffer.push_parts(&[b"hello ", b"world"], 2);
        assert_eq!(buffer.len(), 9);
        assert_eq!(contents(&buffer), b"llo world");
        buffer.consume(4);
        assert_eq!(contents(&buffer), b"world");
        assert_eq!(buffer.single(), Some(&b"world"[..]));
        buffer.push_parts(&[b"!"], 0);
        assert_eq!(buffer.slices().len(), 1, "small writes share a chunk");
        assert_eq!(contents(&buffer), b"world!");
        let big = vec![7u8; COALESCE];
        buffer.push_parts(&[&big], 0);
        assert_eq!(buffer.slices().len(), 2);
        assert_eq!(buffer.single(), None, "two chunks");
        buffer.consume(6);
        assert_eq!(buffer.single(), Some(&big[..]));
        assert_eq!(buffer.len(), COALESCE);
        assert_eq!(contents(&buffer), big);
        buffer.consume(COALESCE);
        assert!(buffer.is_empty());
        assert!(buffer.slices().is_empty());
        buffer.consume(10); // more than there is: nothing happens
        assert_eq!(buffer.len(), 0);
    }

    #[test]
    fn slices_after_skips_what_was_written() {
        let parts: [&[u8]; 3] = [b"ab", b"", b"cde"];
        let flat = |s: Vec<IoSlice<'_>>| s.iter().flat_map(|s| s.to_vec()).collect::<Vec<u8>>();
        assert_eq!(flat(slices_after(&parts, 0)), b"abcde");
        assert_eq!(flat(slices_after(&parts, 3)), b"de");
        assert!(slices_after(&parts, 5).is_empty());
    }

    #[test]
    fn clear_reports_what_it_dropped() {
        let mut buffer = WriteBuffer::default();
        buffer.push_parts(&[b"abc"], 0);
        assert_eq!(buffer.clear(), 3);
        assert!(buffer.is_empty());
    }
}
