//! STREAM: `[peer, data]`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tx0mq_connections::pattern::{Pattern, StreamSocket};
use tx0mq_fuzz::{event, frames, multipart};

fuzz_target!(|data: &[u8]| {
    let input = frames(&multipart(data));
    match event(StreamSocket.decode(multipart(data))) {
        Some((peer, data)) => assert_eq!([peer.to_vec(), data.to_vec()], input[..]),
        None => assert_ne!(input.len(), 2, "refused {input:?}"),
    }
});
