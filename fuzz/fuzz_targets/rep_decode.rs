//! REP: routing frames, the message id, an empty delimiter, then the parts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tx0mq_connections::pattern::{Pattern, Rep};
use tx0mq_fuzz::{event, frames, multipart};

fuzz_target!(|data: &[u8]| {
    let input = frames(&multipart(data));
    if let Some((id, parts)) = event(Rep::default().decode(multipart(data))) {
        let delimiter = input
            .iter()
            .position(Vec::is_empty)
            .expect("an event with no delimiter");
        assert!(delimiter > 0, "an event with no message id");
        assert_eq!(&id[..], &input[delimiter - 1][..]);
        assert_eq!(frames(&parts), input[delimiter + 1..]);
    }
});
