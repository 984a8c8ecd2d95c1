//! Serialized messages (pyzmq's `send_json`/`recv_json`,
//! `send_serialized`/`recv_serialized`): a message that does not decode is
//! an error in the callback and the next good one arrives; a user codec
//! round-trips; the async forms; JSON against pyzmq's own `send_json` and
//! `recv_json`. One behaviour per test, named for it.
//!
//! Every wait has a deadline: `iterate_until` fails the test after 10 s.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tx0mq_connections::serial::{Codec, CodecError, Json};
use tx0mq_connections::{
    Error, Frame, Multipart, ZmqDealerConnection, ZmqEndpoint, ZmqFactory, ZmqPairConnection,
    ZmqPullConnection, ZmqPushConnection,
};
use tx0mq_reactor::Reactor;
use tx0mq_test_support::python_or_skip;
use tx0mq_test_support::reactor::{iterate_until_cond, wait_for};

/// How long a Python peer may take for one step.
const STEP: Duration = Duration::from_secs(30);

fn reactor() -> Reactor {
    tx0mq_test_support::reactor::reactor(())
}

fn inproc(name: &str) -> String {
    tx0mq_test_support::net::inproc(&format!("serialization-{name}"))
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Point {
    x: i32,
    y: i32,
}

/// What a callback heard: each value, or the error's text.
type Heard<T> = Rc<RefCell<Vec<Result<T, String>>>>;

#[test]
fn malformed_json_is_an_error_and_the_next_good_one_arrives() {
    let r = reactor();
    let factory = ZmqFactory::new(&r).unwrap();
    let address = inproc("malformed");
    let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(&address)).unwrap();
    let heard: Heard<Point> = Rc::default();
    let sink = heard.clone();
    pull.on_json(move |_, point: Result<Point, _>| {
        sink.borrow_mut().push(point.map_err(|e| e.to_string()));
    });
    let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect(&address)).unwrap();
    push.send_json(&Point { x: 1, y: 2 }).unwrap();
    push.push(b"{\"x\": 1, \"y\":").unwrap(); // cut short
    push.push(b"{\"x\": \"one\", \"y\": 2}").unwrap(); // the wrong type
    push.push([&b"{\"x\": 1, \"y\": 2}"[..], b"{}"]).unwrap(); // two frames
    push.push(&[0xffu8, 0xfe][..]).unwrap(); // not UTF-8
    push.send_json(&Point { x: 3, y: 4 }).unwrap();
    iterate_until_cond(&r, "six messages", || heard.borrow().len() == 6);
    let heard = heard.borrow();
    assert_eq!(heard[0], Ok(Point { x: 1, y: 2 }));
    assert_eq!(
        heard[5],
        Ok(Point { x: 3, y: 4 }),
        "the good one after the bad ones"
    );
    for (i, bad) in heard[1..5].iter().enumerate() {
        let e = bad.as_ref().expect_err("a malformed message is an error");
        assert!(
            e.contains(&address),
            "message {i}: the error names the connection: {e}"
        );
        assert!(e.contains("cannot decode"), "message {i}: {e}");
    }
    assert!(heard[1]
        .as_ref()
        .unwrap_err()
        .contains("not the JSON expected"));
    assert!(heard[3]
        .as_ref()
        .unwrap_err()
        .contains("JSON is one frame, this message has 2"));
    assert!(!pull.is_closed(), "the connection goes on serving");
    factory.shutdown();
}

#[test]
fn send_json_is_one_frame_of_json() {
    let r = reactor();
    let factory = ZmqFactory::new(&r).unwrap();
    let address = inproc("wire");
    let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind(&address)).unwrap();
    let frames: Rc<RefCell<Vec<Multipart>>> = Rc::default();
    let sink = frames.clone();
    pull.on_pull(move |_, message| sink.borrow_mut().push(message));
    let push = ZmqPushConnection::new(&factory, ZmqEndpoint::connect(&address)).unwrap();
    push.send_json(&serde_json::json!({"dtype": "float64", "shape": [2, 3], "name": "é"}))
        .unwrap();
    iterate_until_cond(&r, "one message", || frames.borrow().len() == 1);
    let message = &frames.borrow()[0];
    assert_eq!(message.len(), 1);
    let text = std::str::from_utf8(&message[0]).expect("UTF-8");
    let back: serde_json::Value = serde_json::from_str(text).unwrap();
    assert_eq!(back["shape"], serde_json::json!([2, 3]));
    assert_eq!(back["name"], "é");
    factory.shutdown();
}

#[test]
fn a_value_that_does_not_serialize_is_an_encode_error_naming_the_connection() {
    let r = reactor();
    let factory = ZmqFactory::new(&r).unwrap();
    let address = inproc("encode");
    let push = ZmqPushConnection::new(&factory, ZmqEndpoint::bind(&address)).unwrap();
    // JSON object keys are strings; a tuple key does not serialize.
    let mut map = HashMap::new();
    map.insert((1, 2), 3);
    match push.send_json(&map) {
        Err(e @ Error::Encode { .. }) => {
            let text = e.to_string();
            assert!(text.contains(&address), "{text}");
        }
        other => panic!("expected Error::Encode, got {other:?}"),
    }
    assert_eq!(push.outbox_len(), 0, "nothing was sent");
    factory.shutdown();
}

/// A user codec: a name and a count, in two frames (text, then 8 bytes
/// big-endian).
struct NameCount;

impl Codec<(String, u64)> for NameCount {
    fn encode(&self, value: &(String, u64)) -> Result<Multipart, CodecError> {
        Ok(Multipart::from(vec![
            Frame::from(value.0.as_str()),
            Frame::from(&value.1.to_be_bytes()[..]),
        ]))
    }

    fn decode(&self, frames: &[Frame]) -> Result<(String, u64), CodecError> {
        let [name, count] = frames else {
            return Err(format!("2 frames expected, got {}", frames.len()).into());
        };
        let name = std::str::from_utf8(name)?.to_string();
        let count: [u8; 8] = count[..].try_into()?;
        Ok((name, u64::from_be_bytes(count)))
    }
}

#[test]
fn a_user_codec_round_trips_and_its_errors_reach_the_callback() {
    let r = reactor();
    let factory = ZmqFactory::new(&r).unwrap();
    let address = inproc("codec");
    let a = ZmqPairConnection::new(&factory, ZmqEndpoint::bind(&address)).unwrap();
    let b = ZmqPairConnection::new(&factory, ZmqEndpoint::connect(&address)).unwrap();
    let heard: Heard<(String, u64)> = Rc::default();
    let sink = heard.clone();
    b.on_serialized(NameCount, move |_, value| {
        sink.borrow_mut().push(value.map_err(|e| e.to_string()));
    });
    a.send_serialized(&NameCount, &("apples".to_string(), 1 << 40))
        .unwrap();
    a.send_msg([&b"pears"[..], b"123"]).unwrap(); // a 3-byte count
    a.send_serialized(&NameCount, &("pears".to_string(), 7))
        .unwrap();
    iterate_until_cond(&r, "three messages", || heard.borrow().len() == 3);
    let heard = heard.borrow();
    assert_eq!(heard[0], Ok(("apples".to_string(), 1 << 40)));
    let e = heard[1].as_ref().unwrap_err();
    assert!(e.contains("2-frame message (8 bytes)"), "{e}");
    assert_eq!(heard[2], Ok(("pears".to_string(), 7)));
    factory.shutdown();
}

#[test]
fn the_async_forms_decode_and_go_on_after_an_error() {
    let r = reactor();
    let factory = ZmqFactory::new(&r).unwrap();
    let address = inproc("async");
    let pull = ZmqDealerConnection::new(&factory, ZmqEndpoint::bind(&address)).unwrap();
    let push = ZmqDealerConnection::new(&factory, ZmqEndpoint::connect(&address)).unwrap();
    let mut stream = pull.messages().unwrap();
    let d = r.spawn(async move {
        let first: Point = stream.next_json().await.expect("a message")?;
        let bad = stream.next_json::<Point>().await.expect("a message");
        let third = stream
            .next_serialized(&NameCount)
            .await
            .expect("a message")?;
        Ok::<_, tx0mq_connections::serial::DecodeError>((first, bad.is_err(), third))
    });
    push.send_json(&Point { x: 5, y: 6 }).unwrap();
    push.send_msg(b"\"not a point\"").unwrap();
    push.send_serialized(&NameCount, &("plums".to_string(), 9))
        .unwrap();
    let (first, bad_was_error, third) = wait_for(&r, &d, "three messages");
    assert_eq!(first, Point { x: 5, y: 6 });
    assert!(bad_was_error);
    assert_eq!(third, ("plums".to_string(), 9));
    factory.shutdown();
}

#[test]
fn json_codec_encodes_what_decode_reads() {
    let frames = Json.encode(&Point { x: -1, y: 7 }).unwrap();
    assert_eq!(frames.len(), 1);
    let back: Point = Json.decode(&frames).unwrap();
    assert_eq!(back, Point { x: -1, y: 7 });
}

#[test]
fn interop_json_both_ways_with_pyzmq() {
    let env = python_or_skip!("interop_json_both_ways_with_pyzmq");
    let r = reactor();
    let factory = ZmqFactory::new(&r).unwrap();
    let pull = ZmqPullConnection::new(&factory, ZmqEndpoint::bind("tcp://127.0.0.1:*")).unwrap();
    let push = ZmqPushConnection::new(&factory, ZmqEndpoint::bind("tcp://127.0.0.1:*")).unwrap();
    let heard: Heard<Point> = Rc::default();
    let sink = heard.clone();
    pull.on_json(move |_, point: Result<Point, _>| {
        sink.borrow_mut().push(point.map_err(|e| e.to_string()));
    });
    // pyzmq's send_json sends {"x": 10, "y": 20}, then the Point it reads
    // with recv_json, doubled.
    let code = "import sys, zmq\n\
                ctx = zmq.Context()\n\
                out = ctx.socket(zmq.PUSH); out.connect(sys.argv[1])\n\
                inp = ctx.socket(zmq.PULL); inp.connect(sys.argv[2])\n\
                out.send_json({'x': 10, 'y': 20})\n\
                p = inp.recv_json()\n\
                out.send_json({'x': p['x'] * 2, 'y': p['y'] * 2})\n\
                print('done', flush=True)\n\
                out.close(linger=5000)\n";
    let pull_at = pull.last_endpoint().unwrap();
    let push_at = push.last_endpoint().unwrap();
    let mut peer = env.run_code("json peer", code, &[&pull_at, &push_at]);
    push.send_json(&Point { x: 3, y: 4 }).unwrap();
    iterate_until_cond(&r, "two JSON messages from pyzmq", || {
        heard.borrow().len() == 2
    });
    assert_eq!(heard.borrow()[0], Ok(Point { x: 10, y: 20 }));
    assert_eq!(heard.borrow()[1], Ok(Point { x: 6, y: 8 }));
    peer.expect_line("done", STEP);
    factory.shutdown();
}
