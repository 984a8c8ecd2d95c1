//! XPUB: subscription messages, `\x01` or `\x00` then the topic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tx0mq_connections::pattern::{Pattern, XPub};
use tx0mq_fuzz::{event, multipart};

fuzz_target!(|data: &[u8]| {
    let message = multipart(data);
    let first = message.first().map(|f| f.to_vec());
    if let Some((subscribe, topic)) = event(XPub::default().decode(message)) {
        let first = first.expect("an event from an empty message");
        assert_eq!(first[0], u8::from(subscribe));
        assert_eq!(&first[1..], &topic[..]);
    }
});
