//! SUB and XSUB: txZMQ's publish framing, one frame `tag + "\0" + message`
//! or two frames `[tag, message]`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tx0mq_connections::pattern::{Pattern, Sub, XSub};
use tx0mq_fuzz::{event, frames, multipart};

fuzz_target!(|data: &[u8]| {
    let input = frames(&multipart(data));
    for decoded in [
        Sub::default().decode(multipart(data)),
        XSub::default().decode(multipart(data)),
    ] {
        let Some((message, tag)) = event(decoded) else {
            continue;
        };
        match input.as_slice() {
            [frame] => {
                // Split at the first separator.
                assert_eq!([&tag[..], b"\0", &message[..]].concat(), *frame);
                assert!(!tag.contains(&0));
            }
            [got_tag, got_message] => {
                assert_eq!((&tag[..], &message[..]), (&got_tag[..], &got_message[..]));
            }
            _ => panic!("an event from {} frames", input.len()),
        }
    }
});
