//! REQ: replies `[id, "", parts...]`. A fresh pattern has no request
//! waiting, so nothing is an event.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tx0mq_connections::pattern::{Pattern, Req};
use tx0mq_fuzz::{event, multipart};

fuzz_target!(|data: &[u8]| {
    let never: Option<std::convert::Infallible> = event(Req::default().decode(multipart(data)));
    assert!(never.is_none());
});
