//! LineReceiver and Int32StringReceiver, and the string transport itself,
//! tested with no network: the protocols run on a `StringTransport` and a
//! reactor on a fake clock, so every test is exact and waits for nothing.
//! One test runs a line protocol over real TCP, to see the default
//! `line_length_exceeded` close a connection.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use tx0mq_net::basic::{
    send_int32_string, Int32StringReceiver, LineCtx, LineProtocol, LineReceiver, StringCtx,
    StringProtocol,
};
use tx0mq_net::testing::StringTransport;
use tx0mq_net::{Address, AfterEof, Error, NetCtx, Producer, Protocol, ReactorNet, Reason};
use tx0mq_reactor::Reactor;
use tx0mq_test_support::log as logs;
use tx0mq_test_support::reactor::{fake_clock_reactor, iterate_until, reactor};

#[derive(Default)]
struct Seen {
    lines: Vec<Vec<u8>>,
    raw: Vec<Vec<u8>>,
    exceeded: Vec<Vec<u8>>,
    lost: Vec<Reason>,
    made: u32,
}

fn texts(lines: &[Vec<u8>]) -> Vec<String> {
    lines
        .iter()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect()
}

/// Records lines; `QUIT` loses the connection, `RAW n` reads n raw bytes,
/// `PAUSE` pauses the transport, `CLEAR` empties the line buffer; every
/// other line is answered with `> line`.
struct Recorder {
    raw_left: usize,
}

fn recorder() -> Recorder {
    Recorder { raw_left: 0 }
}

impl LineProtocol<Seen> for Recorder {
    fn connection_made(&mut self, cx: &mut LineCtx<'_, Seen>) {
        cx.state.made += 1;
    }

    fn line_received(&mut self, cx: &mut LineCtx<'_, Seen>, line: &[u8]) {
        cx.state.lines.push(line.to_vec());
        match line {
            b"QUIT" => cx.transport.lose_connection(),
            b"PAUSE" => cx.transport.pause_producing(),
            b"CLEAR" => {
                let rest = cx.clear_line_buffer();
                cx.state.raw.push(rest);
            }
            _ if line.starts_with(b"RAW ") => {
                let n = String::from_utf8_lossy(&line[4..]).parse().expect("RAW n");
                self.raw_left = n;
                cx.set_raw_mode();
                assert!(!cx.is_line_mode());
            }
            _ => {
                let answer = [&b"> "[..], line].concat();
                cx.send_line(answer).expect("answer");
            }
        }
    }

    fn raw_data_received(&mut self, cx: &mut LineCtx<'_, Seen>, data: &[u8]) {
        let take = self.raw_left.min(data.len());
        cx.state.raw.push(data[..take].to_vec());
        self.raw_left -= take;
        if self.raw_left == 0 {
            cx.set_line_mode(&data[take..]);
            assert!(cx.is_line_mode());
        }
    }

    fn line_length_exceeded(&mut self, cx: &mut LineCtx<'_, Seen>, line: &[u8]) {
        cx.state.exceeded.push(line.to_vec());
    }

    fn connection_lost(&mut self, cx: &mut LineCtx<'_, Seen>, reason: &Reason) {
        cx.state.lost.push(reason.clone());
    }
}

fn seen<T>(reactor: &Reactor<Seen>, f: impl FnOnce(&mut Seen) -> T) -> T {
    reactor.access_state(f).expect("the state is free")
}

#[test]
fn lines_are_split_across_and_within_chunks_and_answered_with_the_delimiter() {
    let reactor = fake_clock_reactor(Seen::default());
    let tr = StringTransport::connect(&reactor, LineReceiver::new(recorder())).expect("connect");
    assert_eq!(seen(&reactor, |s| s.made), 1, "connection_made at once");
    tr.data_received(b"one\r\ntw").expect("deliver");
    tr.data_received(b"o\r").expect("deliver");
    tr.data_received(b"\nthree\r\nfour\r\n\r\npartial")
        .expect("deliver");
    assert_eq!(
        texts(&seen(&reactor, |s| s.lines.clone())),
        ["one", "two", "three", "four", ""]
    );
    assert_eq!(
        tr.value(),
        b"> one\r\n> two\r\n> three\r\n> four\r\n> \r\n",
        "send_line adds the delimiter"
    );
    tr.data_received(b"\r\n").expect("deliver");
    assert_eq!(
        seen(&reactor, |s| s.lines.len()),
        6,
        "the partial line completed"
    );
}

#[test]
fn the_delimiter_is_configurable() {
    let reactor = fake_clock_reactor(Seen::default());
    let tr = StringTransport::connect(&reactor, LineReceiver::new(recorder()).delimiter(b"\n"))
        .expect("connect");
    tr.data_received(b"a\r\nb\n").expect("deliver");
    assert_eq!(texts(&seen(&reactor, |s| s.lines.clone())), ["a\r", "b"]);
    assert_eq!(tr.value(), b"> a\r\n> b\n");
}

#[test]
fn raw_mode_takes_the_rest_and_set_line_mode_gives_back_the_extra() {
    let reactor = fake_clock_reactor(Seen::default());
    let tr = StringTransport::connect(&reactor, LineReceiver::new(recorder())).expect("connect");
    // The raw part arrives with the line that asks for it, split, and
    // followed by more lines in the same chunk.
    tr.data_received(b"RAW 10\r\n0123").expect("deliver");
    tr.data_received(b"456789after\r\nlast\r\n")
        .expect("deliver");
    seen(&reactor, |s| {
        assert_eq!(texts(&s.raw), ["0123", "456789"]);
        assert_eq!(texts(&s.lines), ["RAW 10", "after", "last"]);
    });
}

#[test]
fn lines_after_lose_connection_are_not_delivered() {
    let reactor = fake_clock_reactor(Seen::default());
    let tr = StringTransport::connect(&reactor, LineReceiver::new(recorder())).expect("connect");
    tr.data_received(b"hi\r\nQUIT\r\nignored\r\n")
        .expect("deliver");
    assert_eq!(texts(&seen(&reactor, |s| s.lines.clone())), ["hi", "QUIT"]);
    assert!(tr.disconnecting());
    reactor.advance(Duration::ZERO).expect("advance");
    seen(&reactor, |s| {
        assert!(matches!(s.lost[..], [Reason::Closed]), "{:?}", s.lost)
    });
    let refused = tr.data_received(b"more\r\n").expect_err("closed");
    assert!(matches!(refused, Error::Closed { .. }));
}

#[test]
fn a_paused_transport_holds_the_buffered_lines_until_it_resumes() {
    let reactor = fake_clock_reactor(Seen::default());
    let tr = StringTransport::connect(&reactor, LineReceiver::new(recorder())).expect("connect");
    tr.data_received(b"PAUSE\r\nwaits\r\nand this\r\n")
        .expect("deliver");
    assert_eq!(texts(&seen(&reactor, |s| s.lines.clone())), ["PAUSE"]);
    tr.transport().resume_producing();
    assert_eq!(
        seen(&reactor, |s| s.lines.len()),
        1,
        "delivered on the next pass"
    );
    reactor.advance(Duration::ZERO).expect("advance");
    assert_eq!(
        texts(&seen(&reactor, |s| s.lines.clone())),
        ["PAUSE", "waits", "and this"]
    );
}

#[test]
fn clear_line_buffer_hands_over_what_was_not_handled() {
    let reactor = fake_clock_reactor(Seen::default());
    let tr = StringTransport::connect(&reactor, LineReceiver::new(recorder())).expect("connect");
    tr.data_received(b"CLEAR\r\nnot a line\r\nx")
        .expect("deliver");
    seen(&reactor, |s| {
        assert_eq!(texts(&s.lines), ["CLEAR"]);
        assert_eq!(texts(&s.raw), ["not a line\r\nx"]);
    });
    tr.data_received(b"next\r\n").expect("deliver");
    assert_eq!(seen(&reactor, |s| s.lines.len()), 2);
}

#[test]
fn a_line_over_the_maximum_goes_to_line_length_exceeded() {
    let reactor = fake_clock_reactor(Seen::default());
    let tr = StringTransport::connect(&reactor, LineReceiver::new(recorder()).max_length(8))
        .expect("connect");
    // Exactly the maximum is fine.
    tr.data_received(b"12345678\r\n").expect("deliver");
    // One more, with its delimiter: the rest of the buffer goes with it.
    tr.data_received(b"123456789\r\nnext\r\n").expect("deliver");
    // Without a delimiter: as soon as more than the maximum is buffered.
    tr.data_received(b"abcdefghi").expect("deliver");
    seen(&reactor, |s| {
        assert_eq!(texts(&s.lines), ["12345678"]);
        assert_eq!(texts(&s.exceeded), ["123456789\r\nnext\r\n", "abcdefghi"]);
    });
    // The buffer was emptied: parsing starts afresh.
    tr.data_received(b"fine\r\n").expect("deliver");
    assert_eq!(seen(&reactor, |s| s.lines.len()), 2);
}

/// Only lines; the defaults for everything else.
struct Plain;

impl LineProtocol<Seen> for Plain {
    fn line_received(&mut self, cx: &mut LineCtx<'_, Seen>, line: &[u8]) {
        cx.state.lines.push(line.to_vec());
        cx.set_raw_mode();
    }
    fn connection_lost(&mut self, cx: &mut LineCtx<'_, Seen>, reason: &Reason) {
        cx.state.lost.push(reason.clone());
    }
}

#[test]
fn by_default_a_long_line_closes_the_connection_with_a_logged_error() {
    logs::capture();
    let reactor = fake_clock_reactor(Seen::default());
    let tr = StringTransport::connect(&reactor, LineReceiver::new(Plain).max_length(4))
        .expect("connect");
    assert_eq!(tr.transport().get_peer().to_string(), "192.168.1.1:54321");
    tr.data_received(b"toolong").expect("deliver");
    assert!(
        tr.disconnecting(),
        "line_length_exceeded lost the connection"
    );
    assert!(logs::contains(
        log::Level::Error,
        "a line of more than 4 bytes (the maximum) arrived (7 bytes buffered); closing the connection"
    ));
    reactor.advance(Duration::ZERO).expect("advance");
    seen(&reactor, |s| {
        assert!(matches!(s.lost[..], [Reason::Closed]), "{:?}", s.lost)
    });
}

#[test]
fn raw_data_without_raw_data_received_is_dropped_with_a_logged_error() {
    logs::capture();
    let reactor = fake_clock_reactor(Seen::default());
    let tr = StringTransport::connect(&reactor, LineReceiver::new(Plain)).expect("connect");
    tr.data_received(b"switch\r\nraw bytes").expect("deliver");
    assert!(logs::contains(
        log::Level::Error,
        "9 bytes received in raw mode, but the protocol has no raw_data_received; dropped"
    ));
    assert!(!tr.disconnecting());
}

#[test]
fn a_long_line_over_tcp_closes_the_connection() {
    logs::capture();
    let reactor = reactor(Seen::default());
    let port = reactor
        .listen_tcp("127.0.0.1:0", |_| LineReceiver::new(Plain).max_length(16))
        .expect("listen");
    let addr = port.get_host();
    let client = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        stream.write_all(&[b'x'; 100]).expect("write");
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).map(|_| rest.len())
    });
    iterate_until(&reactor, "the connection closed", |s| !s.lost.is_empty());
    let read = client.join().expect("the client thread");
    assert_eq!(read.expect("end-of-file"), 0, "closed without an answer");
    assert!(logs::contains(
        log::Level::Error,
        "a line of more than 16 bytes (the maximum) arrived"
    ));
    seen(&reactor, |s| {
        assert!(matches!(s.lost[..], [Reason::Closed]), "{:?}", s.lost)
    });
}

// ---------------------------------------------------------------------------
// Int32StringReceiver

#[derive(Default)]
struct Strings {
    got: Vec<Vec<u8>>,
    too_long: Vec<usize>,
}

struct Collect {
    keep_going: bool,
}

impl StringProtocol<Strings> for Collect {
    fn string_received(&mut self, cx: &mut StringCtx<'_, Strings>, string: &[u8]) {
        cx.state.got.push(string.to_vec());
        if string == b"ping" {
            cx.send_string(b"pong").expect("send");
        }
    }
    fn length_limit_exceeded(&mut self, cx: &mut StringCtx<'_, Strings>, length: usize) {
        cx.state.too_long.push(length);
        if !self.keep_going {
            cx.transport.lose_connection();
        }
    }
}

fn prefixed(s: &[u8]) -> Vec<u8> {
    let mut out = (s.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(s);
    out
}

#[test]
fn strings_are_reassembled_from_any_chunking() {
    let reactor = fake_clock_reactor(Strings::default());
    let tr = StringTransport::connect(
        &reactor,
        Int32StringReceiver::new(Collect { keep_going: false }),
    )
    .expect("connect");
    let stream: Vec<u8> = [&b""[..], b"a", b"ping", &[0u8, 1, 2][..], &[7u8; 300][..]]
        .iter()
        .flat_map(|s| prefixed(s))
        .collect();
    // One byte at a time, then the same all at once.
    for byte in &stream {
        tr.data_received(std::slice::from_ref(byte))
            .expect("deliver");
    }
    tr.data_received(&stream).expect("deliver");
    reactor
        .access_state(|s| {
            assert_eq!(s.got.len(), 10);
            assert_eq!(s.got[..5], s.got[5..]);
            assert_eq!(s.got[2], b"ping");
            assert_eq!(s.got[4], vec![7u8; 300]);
        })
        .expect("state");
    assert_eq!(tr.value(), [prefixed(b"pong"), prefixed(b"pong")].concat());
}

#[test]
fn a_length_over_the_maximum_stops_parsing() {
    let reactor = fake_clock_reactor(Strings::default());
    let tr = StringTransport::connect(
        &reactor,
        Int32StringReceiver::new(Collect { keep_going: true }).max_length(5),
    )
    .expect("connect");
    let mut data = prefixed(b"12345");
    data.extend(prefixed(b"123456"));
    data.extend(prefixed(b"after"));
    tr.data_received(&data).expect("deliver");
    reactor
        .access_state(|s| {
            assert_eq!(s.got, [b"12345".to_vec()]);
            assert_eq!(s.too_long, [6]);
        })
        .expect("state");
    tr.data_received(&prefixed(b"x")).expect("deliver");
    reactor
        .access_state(|s| assert_eq!(s.got.len(), 1, "nothing is parsed after"))
        .expect("state");
}

/// Strings with the defaults.
struct Defaults;

impl StringProtocol<Strings> for Defaults {
    fn string_received(&mut self, cx: &mut StringCtx<'_, Strings>, string: &[u8]) {
        cx.state.got.push(string.to_vec());
    }
}

#[test]
fn by_default_a_length_over_the_maximum_closes_with_a_logged_error() {
    logs::capture();
    let reactor = fake_clock_reactor(Strings::default());
    let tr =
        StringTransport::connect(&reactor, Int32StringReceiver::new(Defaults)).expect("connect");
    tr.data_received(&100_000u32.to_be_bytes())
        .expect("deliver");
    assert!(tr.disconnecting());
    assert!(logs::contains(
        log::Level::Error,
        "a string of 100000 bytes announced, more than the maximum 99999; closing the connection"
    ));
}

#[test]
fn send_int32_string_frames_for_any_transport() {
    let reactor = fake_clock_reactor(Strings::default());
    let tr =
        StringTransport::connect(&reactor, Int32StringReceiver::new(Defaults)).expect("connect");
    send_int32_string(tr.transport(), b"hello").expect("send");
    assert_eq!(tr.value(), b"\0\0\0\x05hello");
}

// ---------------------------------------------------------------------------
// The string transport itself

#[derive(Default)]
struct Events {
    log: Vec<String>,
}

struct Logger;

impl Protocol<Events> for Logger {
    fn connection_made(&mut self, cx: &mut NetCtx<'_, Events>) {
        cx.state.log.push("made".into());
    }
    fn data_received(&mut self, cx: &mut NetCtx<'_, Events>, data: &[u8]) {
        cx.state
            .log
            .push(format!("data {}", String::from_utf8_lossy(data)));
        if let Err(e) = cx.transport.write(data) {
            cx.state.log.push(format!("refused: {e}"));
        }
    }
    fn read_connection_lost(&mut self, cx: &mut NetCtx<'_, Events>) -> AfterEof {
        cx.state.log.push("eof".into());
        AfterEof::Close
    }
    fn connection_lost(&mut self, cx: &mut NetCtx<'_, Events>, reason: &Reason) {
        cx.state.log.push(format!("lost {reason:?}"));
    }
}

struct Counter;

impl Producer<Events> for Counter {
    fn pause_producing(&mut self, cx: &mut NetCtx<'_, Events>) {
        cx.state.log.push("pause".into());
    }
    fn resume_producing(&mut self, cx: &mut NetCtx<'_, Events>) {
        cx.state.log.push("resume".into());
    }
    fn stop_producing(&mut self, cx: &mut NetCtx<'_, Events>) {
        cx.state.log.push("stop".into());
    }
}

fn log_of(reactor: &Reactor<Events>) -> Vec<String> {
    reactor.access_state(|s| s.log.clone()).expect("state")
}

#[test]
fn a_refusing_wire_buffers_writes_pauses_the_producer_and_flushes_on_resume() {
    let reactor = fake_clock_reactor(Events::default());
    let host = "127.0.0.1:1".parse().expect("addr");
    let peer = "127.0.0.1:2".parse().expect("addr");
    let tr = StringTransport::with_addresses(&reactor, Logger, host, peer).expect("connect");
    assert_eq!(tr.transport().get_host(), Address::Tcp(host));
    assert_eq!(tr.transport().get_peer(), Address::Tcp(peer));
    let transport = tr.transport().clone();
    transport.set_producer_high_water(10);
    transport
        .register_producer(Counter, true)
        .expect("register");
    tr.set_writable(false).expect("refuse");
    transport.write(b"0123456789ab").expect("buffered");
    assert_eq!(transport.buffered(), 12);
    assert!(tr.value().is_empty());
    reactor.advance(Duration::ZERO).expect("advance");
    assert_eq!(log_of(&reactor), ["made", "pause"], "past the mark");
    tr.set_writable(true).expect("accept");
    assert_eq!(tr.value(), b"0123456789ab");
    assert_eq!(transport.buffered(), 0);
    assert_eq!(log_of(&reactor), ["made", "pause", "resume"]);
    tr.end_of_input().expect("eof");
    assert_eq!(
        log_of(&reactor),
        ["made", "pause", "resume", "eof", "stop", "lost PeerClosed"],
        "an empty buffer closes at once; the producer is stopped first"
    );
}

#[test]
fn a_lost_connection_reaches_the_protocol_with_its_reason() {
    let reactor = fake_clock_reactor(Events::default());
    let tr = StringTransport::connect(&reactor, Logger).expect("connect");
    tr.data_received(b"x").expect("deliver");
    tr.lose(Reason::Reset).expect("lose");
    assert_eq!(log_of(&reactor), ["made", "data x", "lost Reset"]);
    assert!(!tr.transport().is_connected());
    let refused = tr.transport().write(b"y").expect_err("closed");
    assert!(
        refused
            .to_string()
            .ends_with("the connection is closed (Connection to the other side was lost in a non-clean fashion: Connection reset by peer.)"),
        "{refused}"
    );
}

#[test]
fn lose_write_connection_shuts_the_wire_after_the_flush() {
    let reactor = fake_clock_reactor(Events::default());
    let tr = StringTransport::connect(&reactor, Logger).expect("connect");
    tr.set_writable(false).expect("refuse");
    tr.transport().write(b"last words").expect("buffered");
    tr.transport().lose_write_connection();
    reactor.advance(Duration::ZERO).expect("advance");
    assert!(!tr.write_shut(), "not before the flush");
    tr.set_writable(true).expect("accept");
    assert_eq!(tr.value(), b"last words");
    assert!(tr.write_shut());
    tr.data_received(b"still reading").expect("reading goes on");
    assert_eq!(tr.take_value(), b"last words", "the echo was refused");
    assert!(tr.value().is_empty());
    let log = log_of(&reactor);
    assert_eq!(log[1], "data still reading");
    assert!(
        log[2].ends_with("its write side was shut down (lose_write_connection)"),
        "{log:?}"
    );
}

#[test]
fn a_write_after_lose_connection_that_must_wait_is_flushed_before_the_close() {
    let reactor = fake_clock_reactor(Events::default());
    let tr = StringTransport::connect(&reactor, Logger).expect("connect");
    tr.transport().lose_connection();
    tr.set_writable(false).expect("refuse");
    tr.transport()
        .write(b"goodbye")
        .expect("taken while closing");
    reactor.advance(Duration::ZERO).expect("advance");
    assert!(
        tr.transport().is_connected(),
        "not closed with the write still buffered"
    );
    tr.set_writable(true).expect("accept");
    assert_eq!(tr.value(), b"goodbye");
    assert!(!tr.transport().is_connected(), "closed once flushed");
    assert_eq!(log_of(&reactor), ["made", "lost Closed"]);
}
