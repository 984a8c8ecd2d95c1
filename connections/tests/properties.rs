//! Property tests for every parser a peer's bytes reach: each pattern's
//! `decode`, fed arbitrary multipart messages (no frames, empty frames, long
//! frames) and messages built the way the sending side builds them.
//!
//! Every `decode` is total: it returns an event, `Consumed` or `Malformed`
//! with a reason that names what was wrong, and never panics. Where the
//! wire format defines a round trip (txZMQ's publish framing, subscription
//! messages, REP and ROUTER envelopes, REQ reply ids), the event is exactly
//! what was framed.

mod common;

use std::time::Duration;

use common::{frames, raw_recv, Outcome};
use proptest::collection::vec;
use proptest::prelude::*;
use tx0mq_connections::pattern::{
    Dealer, Decoded, Pair, Pattern, Pub, Pull, Push, Raw, Rep, Req, Router, StreamSocket, Sub,
    XPub, XSub,
};
use tx0mq_connections::{
    Error, Frame, Multipart, ZmqEndpoint, ZmqFactory, ZmqOptions, ZmqRepConnection,
    ZmqReqConnection, ZmqRequestTimeoutError, ZmqSubConnection, ZmqXSubConnection,
};
use tx0mq_test_support::deferred::failure;
use tx0mq_test_support::net::inproc;
use tx0mq_test_support::reactor::{fake_clock_reactor, reactor};

// ---------------------------------------------------------------------------
// Strategies

/// A byte, often `\0` or `\x01` (the topic separator and the subscription
/// flags), so that separators and flags turn up in arbitrary frames.
fn byte() -> impl Strategy<Value = u8> {
    prop_oneof![4 => any::<u8>(), 1 => Just(0u8), 1 => Just(1u8)]
}

/// A frame of any length: often empty, mostly short, sometimes long (past
/// the 64 bytes at which log messages shorten a frame, and past libzmq's
/// inline message size).
fn frame() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => Just(Vec::new()),
        6 => vec(byte(), 1..=12),
        1 => vec(any::<u8>(), 64..=4096),
    ]
}

/// A non-empty frame.
fn nonempty_frame() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => vec(byte(), 1..=12),
        1 => vec(any::<u8>(), 64..=1024),
    ]
}

/// An arbitrary message: zero to eight frames.
fn any_message() -> impl Strategy<Value = Vec<Vec<u8>>> {
    vec(frame(), 0..=8)
}

/// Bytes with no `\0` in them: a tag for the default separator.
fn tag_without_nul() -> impl Strategy<Value = Vec<u8>> {
    vec(1u8..=255, 0..=24)
}

/// Bytes from a four-letter alphabet, so that multi-byte separators overlap
/// tags and messages often.
fn small_alphabet(len: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Vec<u8>> {
    vec(prop::sample::select(vec![b':', b'a', b'b', 0u8]), len)
}

// ---------------------------------------------------------------------------
// Helpers

fn message(frames: &[Vec<u8>]) -> Multipart {
    frames.iter().map(Vec::as_slice).collect()
}

fn one_frame(frame: &[u8]) -> Multipart {
    Multipart::from(Frame::from(frame))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// The event of `decoded`, or a test failure naming what came instead.
fn event<E: std::fmt::Debug>(decoded: Decoded<E>) -> Result<E, TestCaseError> {
    match decoded {
        Decoded::Event(event) => Ok(event),
        other => Err(TestCaseError::fail(format!(
            "expected an event, got {other:?}"
        ))),
    }
}

/// The reason of `decoded`, which must be `Malformed` with a non-empty one.
fn malformed<E: std::fmt::Debug>(decoded: Decoded<E>) -> Result<String, TestCaseError> {
    match decoded {
        Decoded::Malformed(reason) if !reason.trim().is_empty() => Ok(reason),
        other => Err(TestCaseError::fail(format!(
            "expected Malformed with a reason, got {other:?}"
        ))),
    }
}

fn bytes(frame: &Frame) -> Vec<u8> {
    frame.to_vec()
}

// ---------------------------------------------------------------------------
// SUB and XSUB: txZMQ's publish framing

/// What SUB and XSUB make of any message, with separator `sep`: two frames
/// are `[tag, message]`; one frame splits at the first separator; anything
/// else is refused with a reason that names the problem.
fn check_untag<K: Pattern<Event = (Frame, Frame)>>(
    pattern: &K,
    sep: &[u8],
    input: &[Vec<u8>],
) -> Result<(), TestCaseError> {
    let decoded = pattern.decode(message(input));
    match input {
        [tag, body] => {
            let (message, got_tag) = event(decoded)?;
            prop_assert_eq!(
                (bytes(&got_tag), bytes(&message)),
                (tag.clone(), body.clone())
            );
        }
        [frame] => match find(frame, sep) {
            Some(_) => {
                let (message, tag) = event(decoded)?;
                let (tag, message) = (bytes(&tag), bytes(&message));
                prop_assert_eq!(&concat(&[&tag, sep, &message]), frame);
                // Split at the first separator: none starts earlier.
                prop_assert_eq!(find(&concat(&[&tag, sep]), sep), Some(tag.len()));
            }
            None => {
                let reason = malformed(decoded)?;
                prop_assert!(reason.contains("no topic separator"), "{}", reason);
            }
        },
        _ => {
            let reason = malformed(decoded)?;
            prop_assert!(
                reason.contains(&format!("{} frames", input.len())),
                "{}",
                reason
            );
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn sub_and_xsub_decode_any_message_as_tag_and_message_or_say_why_not(
        input in any_message()
    ) {
        check_untag(&Sub::default(), b"\0", &input)?;
        check_untag(&XSub::default(), b"\0", &input)?;
    }

    #[test]
    fn a_published_frame_decodes_to_its_message_and_tag(
        tag in tag_without_nul(),
        body in vec(byte(), 0..=64),
    ) {
        // ZmqPubConnection::publish(body, tag) sends tag + "\0" + body.
        let frame = concat(&[&tag, b"\0", &body]);
        for (message, got_tag) in [
            event(Sub::default().decode(one_frame(&frame)))?,
            event(XSub::default().decode(one_frame(&frame)))?,
        ] {
            prop_assert_eq!(bytes(&got_tag), tag.clone());
            prop_assert_eq!(bytes(&message), body.clone());
        }
    }

    #[test]
    fn two_frames_decode_to_message_and_tag(
        tag in frame(),
        body in frame(),
    ) {
        for (message, got_tag) in [
            event(Sub::default().decode(message(&[tag.clone(), body.clone()])))?,
            event(XSub::default().decode(message(&[tag.clone(), body.clone()])))?,
        ] {
            prop_assert_eq!(bytes(&got_tag), tag.clone());
            prop_assert_eq!(bytes(&message), body.clone());
        }
    }
}

/// With any separator a connection is given (`set_topic_sep`), a frame built
/// as `publish` builds it splits at the first separator, and gives back
/// exactly the tag and message when the separator cannot start inside the
/// tag (with `::`, the tag `a:` makes `a:::m` ambiguous).
#[test]
fn multi_byte_separators_split_published_frames_at_the_first_separator() {
    let reactor = reactor(());
    let factory = ZmqFactory::new(&reactor).expect("factory");
    let sub = ZmqSubConnection::new(&factory, ZmqEndpoint::connect(inproc("props-sub")))
        .expect("SUB connection");
    let xsub = ZmqXSubConnection::new(&factory, ZmqEndpoint::connect(inproc("props-xsub")))
        .expect("XSUB connection");
    proptest!(|(
        sep in small_alphabet(1..=3),
        tag in small_alphabet(0..=6),
        body in small_alphabet(0..=6),
    )| {
        sub.set_topic_sep(&sep);
        xsub.set_topic_sep(&sep);
        let frame = concat(&[&tag, &sep, &body]);
        check_untag(sub.pattern(), &sep, std::slice::from_ref(&frame))?;
        check_untag(xsub.pattern(), &sep, std::slice::from_ref(&frame))?;
        if find(&concat(&[&tag, &sep]), &sep) == Some(tag.len()) {
            for decoded in [
                sub.pattern().decode(one_frame(&frame)),
                xsub.pattern().decode(one_frame(&frame)),
            ] {
                let (message, got_tag) = event(decoded)?;
                prop_assert_eq!((bytes(&got_tag), bytes(&message)), (tag.clone(), body.clone()));
            }
        }
    });
}

// ---------------------------------------------------------------------------
// XPUB: subscription messages

proptest! {
    #[test]
    fn xpub_decodes_any_message_as_a_subscription_or_says_why_not(input in any_message()) {
        let decoded = XPub::default().decode(message(&input));
        match input.first().and_then(|first| first.split_first()) {
            Some((&flag, topic)) if flag <= 1 => {
                let (subscribe, got_topic) = event(decoded)?;
                prop_assert_eq!(subscribe, flag == 1);
                prop_assert_eq!(bytes(&got_topic), topic.to_vec());
            }
            _ => {
                let reason = malformed(decoded)?;
                prop_assert!(reason.contains("not a subscription"), "{}", reason);
            }
        }
    }

    #[test]
    fn a_subscription_message_decodes_to_its_flag_and_topic(
        subscribe in any::<bool>(),
        topic in frame(),
    ) {
        let frame = concat(&[&[u8::from(subscribe)], &topic]);
        let (got_subscribe, got_topic) = event(XPub::default().decode(one_frame(&frame)))?;
        prop_assert_eq!(got_subscribe, subscribe);
        prop_assert_eq!(bytes(&got_topic), topic);
    }
}

// ---------------------------------------------------------------------------
// REP: routing frames, message id, empty delimiter, parts

proptest! {
    #[test]
    fn rep_decodes_any_message_at_its_first_empty_frame_or_says_why_not(
        input in any_message()
    ) {
        let decoded = Rep::default().decode(message(&input));
        match input.iter().position(Vec::is_empty) {
            None => {
                let reason = malformed(decoded)?;
                prop_assert!(reason.contains("no empty delimiter"), "{}", reason);
                prop_assert!(
                    reason.contains(&format!("({} frame(s))", input.len())),
                    "{}",
                    reason
                );
            }
            Some(0) => {
                let reason = malformed(decoded)?;
                prop_assert!(reason.contains("no message id"), "{}", reason);
            }
            Some(delimiter) => {
                let (id, parts) = event(decoded)?;
                prop_assert_eq!(bytes(&id), input[delimiter - 1].clone());
                prop_assert_eq!(frames(&parts), input[delimiter + 1..].to_vec());
            }
        }
    }

    #[test]
    fn a_request_envelope_decodes_to_its_id_and_parts(
        routes in vec(nonempty_frame(), 0..=3),
        id in nonempty_frame(),
        parts in vec(frame(), 0..=4),
    ) {
        let input = [routes, vec![id.clone(), Vec::new()], parts.clone()].concat();
        let (got_id, got_parts) = event(Rep::default().decode(message(&input)))?;
        prop_assert_eq!(bytes(&got_id), id);
        prop_assert_eq!(frames(&got_parts), parts);
    }
}

/// A decoded request waits for its reply (`unanswered`), and `reply` sends
/// the reply back along the request's route: the routing frames after the
/// first (which the ROUTER socket takes to pick the peer), the message id,
/// the empty delimiter, then the reply. The id is then answered: a second
/// reply to it is `UnknownMessageId`.
#[test]
fn a_decoded_request_is_answered_along_its_route() {
    let reactor = reactor(());
    let factory = ZmqFactory::new(&reactor).expect("factory");
    let address = inproc("props-rep");
    let rep = ZmqRepConnection::with_options(
        &factory,
        ZmqEndpoint::bind(&address),
        &ZmqOptions::new().router_mandatory(true),
    )
    .expect("REP connection");
    let context = factory.context().expect("the factory's context");
    let peer = context.socket(zmq::DEALER).expect("peer socket");
    peer.set_identity(b"peer").expect("peer identity");
    peer.connect(&address).expect("peer connect");
    // Until the ROUTER has attached the peer, a reply to it is refused.
    let deadline = std::time::Instant::now() + tx0mq_test_support::reactor::DEADLINE;
    loop {
        event(
            rep.pattern()
                .decode(message(&[b"peer".to_vec(), b"probe".to_vec(), vec![]])),
        )
        .expect("the probe request decodes");
        match rep.reply(b"probe", b"ready") {
            Ok(()) => break,
            Err(Error::Socket { .. }) if std::time::Instant::now() < deadline => {
                reactor
                    .iterate(Duration::from_millis(5))
                    .expect("iterate the reactor");
            }
            Err(e) => panic!("the REP connection could not reach its peer: {e}"),
        }
    }
    assert_eq!(
        raw_recv(&reactor, &peer, "the probe reply"),
        [b"probe".to_vec(), vec![], b"ready".to_vec()]
    );

    proptest!(|(
        routes in vec(nonempty_frame(), 0..=3),
        id in nonempty_frame(),
        parts in vec(frame(), 0..=4),
        reply in vec(frame(), 0..=4),
    )| {
        let input = [vec![b"peer".to_vec()], routes.clone(), vec![id.clone(), vec![]], parts]
            .concat();
        prop_assert_eq!(rep.unanswered(), 0);
        event(rep.pattern().decode(message(&input)))?;
        prop_assert_eq!(rep.unanswered(), 1);
        prop_assert!(rep.reply(&id, message(&reply)).is_ok());
        prop_assert_eq!(rep.unanswered(), 0);
        prop_assert_eq!(
            raw_recv(&reactor, &peer, "a reply"),
            [routes, vec![id.clone(), vec![]], reply].concat()
        );
        let again = rep.reply(&id, b"again");
        prop_assert!(
            matches!(again, Err(Error::UnknownMessageId { .. })),
            "a second reply to one request: {:?}",
            again
        );
    });
}

// ---------------------------------------------------------------------------
// ROUTER and STREAM

proptest! {
    #[test]
    fn router_decodes_any_message_to_sender_and_parts_or_says_why_not(
        input in any_message()
    ) {
        let decoded = Router.decode(message(&input));
        match input.split_first() {
            Some((sender, parts)) => {
                let (got_sender, got_parts) = event(decoded)?;
                prop_assert_eq!(&bytes(&got_sender), sender);
                prop_assert_eq!(frames(&got_parts), parts.to_vec());
            }
            None => {
                let reason = malformed(decoded)?;
                prop_assert!(reason.contains("empty message"), "{}", reason);
            }
        }
    }

    #[test]
    fn stream_decodes_two_frames_to_peer_and_data_and_refuses_the_rest(
        input in any_message()
    ) {
        let decoded = StreamSocket.decode(message(&input));
        match input.as_slice() {
            [peer, data] => {
                let (got_peer, got_data) = event(decoded)?;
                prop_assert_eq!((&bytes(&got_peer), &bytes(&got_data)), (peer, data));
            }
            _ => {
                let reason = malformed(decoded)?;
                prop_assert!(
                    reason.contains(&format!("a {}-frame message", input.len()))
                        && reason.contains("STREAM"),
                    "{}",
                    reason
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Patterns with no framing of their own

proptest! {
    #[test]
    fn raw_patterns_deliver_any_message_unchanged(input in any_message()) {
        for (name, decoded) in [
            ("PULL", Pull.decode(message(&input))),
            ("DEALER", Dealer.decode(message(&input))),
            ("PAIR", Pair.decode(message(&input))),
            ("raw ROUTER", Raw::new(zmq::ROUTER).decode(message(&input))),
            ("raw SUB", Raw::new(zmq::SUB).decode(message(&input))),
        ] {
            let got = event(decoded)?;
            prop_assert_eq!(frames(&got), input.clone(), "{}", name);
        }
    }

    #[test]
    fn send_only_patterns_refuse_any_message_saying_they_receive_nothing(
        input in any_message()
    ) {
        for (name, decoded) in [
            ("PUB", Pub::default().decode(message(&input))),
            ("PUSH", Push.decode(message(&input))),
        ] {
            let reason = malformed(decoded)?;
            prop_assert!(
                reason.contains(&format!("a {}-frame message", input.len()))
                    && reason.contains(&format!("a {name} socket receives nothing")),
                "{}",
                reason
            );
        }
    }
}

// ---------------------------------------------------------------------------
// REQ: replies `[id, "", parts...]`, ids of 16 bytes

proptest! {
    #[test]
    fn req_consumes_or_refuses_any_reply(input in any_message()) {
        // A fresh REQ pattern has no request waiting: a well-framed reply is
        // consumed (and dropped), anything else refused.
        match Req::default().decode(message(&input)) {
            Decoded::Consumed => {
                prop_assert!(input.len() >= 2 && input[1].is_empty(), "consumed {:?}", input);
            }
            decoded => {
                let reason = malformed(decoded)?;
                prop_assert!(input.len() < 2 || !input[1].is_empty(), "refused {:?}", input);
                prop_assert!(
                    reason.contains("a reply that is not [id, \"\", parts...]")
                        && reason.contains(&format!("({} frame(s))", input.len())),
                    "{}",
                    reason
                );
            }
        }
    }
}

/// A REQ connection, and the id its next request will carry: learnt from
/// the first request's timeout error (the connection's 8-byte prefix, then
/// the request number, counting from 1).
struct ReqFixture {
    _reactor: tx0mq_reactor::Reactor,
    _factory: ZmqFactory,
    req: ZmqReqConnection,
    prefix: Vec<u8>,
    next: std::cell::Cell<u64>,
}

impl ReqFixture {
    fn new() -> Self {
        let reactor = fake_clock_reactor(());
        let factory = ZmqFactory::new(&reactor).expect("factory");
        // No peer: requests wait in the outbox, and stay pending.
        let req = ZmqReqConnection::new(&factory, ZmqEndpoint::bind(inproc("props-req")))
            .expect("REQ connection");
        let probe = req.send_msg_with_timeout(b"probe", Duration::from_secs(1));
        reactor
            .advance(Duration::from_secs(2))
            .expect("advance the clock");
        let timeout = failure(&probe);
        let id = timeout
            .downcast_ref::<ZmqRequestTimeoutError>()
            .expect("the probe timed out")
            .message_id
            .clone();
        assert_eq!(id.len(), 16, "a request id: {id:?}");
        let number = u64::from_be_bytes(id[8..].try_into().expect("8 bytes"));
        ReqFixture {
            _reactor: reactor,
            _factory: factory,
            req,
            prefix: id[..8].to_vec(),
            next: std::cell::Cell::new(number + 1),
        }
    }

    /// Sends a request; its outcome and its id.
    fn request(&self) -> (Outcome, Vec<u8>) {
        let n = self.next.get();
        self.next.set(n + 1);
        let outcome = Outcome::of(&self.req.send_msg(b"request"));
        (outcome, concat(&[&self.prefix, &n.to_be_bytes()]))
    }

    /// Decodes the reply `[id, "", parts...]`.
    fn reply(&self, id: &[u8], parts: &[Vec<u8>]) -> Decoded<std::convert::Infallible> {
        let input = [vec![id.to_vec(), vec![]], parts.to_vec()].concat();
        self.req.pattern().decode(message(&input))
    }
}

/// How to turn a 16-byte request id into another id.
#[derive(Clone, Debug)]
enum Mutation {
    /// Keep the first `n` bytes (`n < 16`).
    Cut(usize),
    /// Add bytes after it.
    Append(Vec<u8>),
    /// Add bytes before it.
    Prepend(Vec<u8>),
    /// XOR the byte at an index with a non-zero value.
    Flip(usize, u8),
}

impl Mutation {
    fn apply(&self, id: &[u8]) -> Vec<u8> {
        match self {
            Mutation::Cut(n) => id[..*n].to_vec(),
            Mutation::Append(tail) => concat(&[id, tail]),
            Mutation::Prepend(head) => concat(&[head, id]),
            Mutation::Flip(at, x) => {
                let mut changed = id.to_vec();
                changed[*at] ^= x;
                changed
            }
        }
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0..16usize).prop_map(Mutation::Cut),
        vec(any::<u8>(), 1..=8).prop_map(Mutation::Append),
        vec(any::<u8>(), 1..=8).prop_map(Mutation::Prepend),
        (0..16usize, 1..=255u8).prop_map(|(at, x)| Mutation::Flip(at, x)),
    ]
}

/// Two requests wait; replies under ids that are not theirs (shorter,
/// longer, or one byte changed) fire neither; the reply under the first's id
/// fires the first alone, with exactly the reply's parts; that id, replayed,
/// fires nothing.
#[test]
fn a_reply_fires_only_the_request_whose_16_byte_id_it_carries() {
    let fixture = ReqFixture::new();
    proptest!(|(
        first_mutations in vec(mutation(), 1..=4),
        second_mutations in vec(mutation(), 1..=4),
        parts in vec(frame(), 0..=4),
    )| {
        let (first, first_id) = fixture.request();
        let (second, second_id) = fixture.request();
        prop_assert_eq!(fixture.req.pending_requests(), 2);
        let wrong_ids = first_mutations
            .iter()
            .map(|m| m.apply(&first_id))
            .chain(second_mutations.iter().map(|m| m.apply(&second_id)))
            // Consecutive ids can differ in one byte only: a mutation of one
            // may be the other's id, which is not a wrong id.
            .filter(|wrong| *wrong != first_id && *wrong != second_id);
        for wrong in wrong_ids {
            prop_assert!(matches!(fixture.reply(&wrong, &parts), Decoded::Consumed));
            prop_assert!(!first.fired() && !second.fired(), "fired by id {:?}", wrong);
        }
        prop_assert_eq!(fixture.req.pending_requests(), 2);

        prop_assert!(matches!(fixture.reply(&first_id, &parts), Decoded::Consumed));
        prop_assert_eq!(first.times(), 1);
        prop_assert_eq!(first.value(), parts.clone());
        prop_assert!(!second.fired());
        prop_assert_eq!(fixture.req.pending_requests(), 1);

        prop_assert!(matches!(fixture.reply(&first_id, &parts), Decoded::Consumed));
        prop_assert_eq!(first.times(), 1);
        prop_assert!(!second.fired());

        // Answer the second too, so that no request is left for the next case.
        prop_assert!(matches!(fixture.reply(&second_id, &[]), Decoded::Consumed));
        prop_assert_eq!(second.value(), Vec::<Vec<u8>>::new());
        prop_assert_eq!(fixture.req.pending_requests(), 0);
    });
}

/// With requests waiting, arbitrary messages from the peer fire none of them.
#[test]
fn arbitrary_replies_fire_no_waiting_request() {
    let fixture = ReqFixture::new();
    let waiting: Vec<(Outcome, Vec<u8>)> = (0..3).map(|_| fixture.request()).collect();
    proptest!(|(input in any_message())| {
        prop_assume!(!input
            .first()
            .is_some_and(|first| waiting.iter().any(|(_, id)| id == first)));
        match fixture.req.pattern().decode(message(&input)) {
            Decoded::Consumed => {}
            decoded => {
                malformed(decoded)?;
            }
        }
        prop_assert_eq!(fixture.req.pending_requests(), waiting.len());
        prop_assert!(waiting.iter().all(|(outcome, _)| !outcome.fired()));
    });
}
