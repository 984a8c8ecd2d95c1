//! ROUTER: `[sender, parts...]`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tx0mq_connections::pattern::{Pattern, Router};
use tx0mq_fuzz::{event, frames, multipart};

fuzz_target!(|data: &[u8]| {
    let input = frames(&multipart(data));
    match event(Router.decode(multipart(data))) {
        Some((sender, parts)) => {
            assert_eq!(&sender[..], &input[0][..]);
            assert_eq!(frames(&parts), input[1..]);
        }
        None => assert!(input.is_empty(), "refused {input:?}"),
    }
});
