//! The ports of pyzmq's `asyncio/`, `eventloop/` and `gevent/` examples run
//! as real processes, each wait with a deadline, on free TCP ports, ipc
//! paths in a temporary directory, or inproc endpoints of their own. The
//! coroutine examples are checked for the lines they print (and, where the
//! original runs forever, stopped by their `--messages` flag); the echo
//! servers are driven by a pyzmq DEALER (`tests/peers/pyzmq_loops.py`);
//! `gevent_simple`'s pickles are read by pyzmq's `recv_pyobj` and ours read
//! pyzmq's `send_pyobj`; `eventloop_asyncweb`'s page is fetched over
//! loopback.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use tx0mq_test_support::net::{free_port, free_ports, tcp, TempDir};
use tx0mq_test_support::process::{examples_are_fresh, Proc};
use tx0mq_test_support::python_or_skip;

/// How long any one step may take on a loaded machine.
const STEP: Duration = Duration::from_secs(30);

/// The examples these tests run.
const EXAMPLES: [&str; 12] = [
    "asyncio_coroutines",
    "asyncio_helloworld_pubsub_dealerrouter",
    "asyncio_router_router",
    "asyncio_tornado_asyncio",
    "eventloop_echo",
    "eventloop_echostream",
    "eventloop_echofuture",
    "eventloop_coroutines",
    "eventloop_asyncweb",
    "gevent_poll",
    "gevent_reqrep",
    "gevent_simple",
];

/// Fails unless the examples are newer than their sources.
fn fresh() {
    examples_are_fresh("examples_pyzmq_loops", &EXAMPLES);
}

/// Runs `name` with `args` to its end, checks it exited 0, returns its lines.
fn run_to_end(name: &str, args: &[&str]) -> Vec<String> {
    let mut proc = Proc::spawn(name, args);
    let status = proc.wait(STEP);
    assert!(
        status.success(),
        "{name} exited with {status}:\n{:?}",
        proc.transcript()
    );
    proc.transcript()
}

/// The float a `recvd [b'1.23']` line carries.
fn recvd_seconds(line: &str) -> Option<f64> {
    line.strip_prefix("recvd [b'")?
        .strip_suffix("']")?
        .parse()
        .ok()
}

/// Both coroutine examples: dots while idle, `sending` before each message,
/// then `recving [(<PULL>, 1)]` and `recvd [b'SECONDS']`, the seconds since
/// the sender started growing message by message.
fn check_coroutines(lines: &[String], messages: usize) {
    let seconds: Vec<f64> = lines.iter().filter_map(|l| recvd_seconds(l)).collect();
    assert_eq!(seconds.len(), messages, "{lines:?}");
    assert!(seconds.windows(2).all(|w| w[0] < w[1]), "{seconds:?}");
    for line in lines {
        if line.starts_with("recvd") {
            continue;
        }
        assert!(
            ["sending", ".", "recving [(<PULL>, 1)]", "nothing to recv"].contains(&line.as_str()),
            "unexpected line {line:?}"
        );
    }
    let count = |text: &str| lines.iter().filter(|l| *l == text).count();
    assert_eq!(count("recving [(<PULL>, 1)]"), messages);
    assert!(count("sending") >= messages);
    assert!(
        count(".") >= 2,
        "the ping coroutine printed no dots: {lines:?}"
    );
    // Each message is announced before it is printed.
    let first_recving = lines.iter().position(|l| l.starts_with("recving"));
    let first_recvd = lines.iter().position(|l| l.starts_with("recvd"));
    assert!(first_recving < first_recvd);
}

#[test]
fn asyncio_coroutines_ping_send_and_receive_in_one_loop() {
    fresh();
    let url = tcp();
    let lines = run_to_end(
        "asyncio_coroutines",
        &[
            "--url",
            &url,
            "--ping-ms",
            "50",
            "--send-ms",
            "200",
            "--messages",
            "3",
        ],
    );
    check_coroutines(&lines, 3);
    assert!(!lines.iter().any(|l| l == "nothing to recv"));
}

#[test]
fn eventloop_coroutines_poll_with_a_timeout() {
    fresh();
    let url = tcp();
    let lines = run_to_end(
        "eventloop_coroutines",
        &[
            "--url",
            &url,
            "--ping-ms",
            "50",
            "--poll-ms",
            "100",
            "--send-ms",
            "400",
            "--messages",
            "3",
        ],
    );
    check_coroutines(&lines, 3);
    // 400 ms between messages, polls of 100 ms: the poll times out between.
    assert!(
        lines.iter().filter(|l| *l == "nothing to recv").count() >= 2,
        "{lines:?}"
    );
}

#[test]
fn asyncio_tornado_asyncio_greets_every_interval() {
    fresh();
    let port = free_port().to_string();
    let lines = run_to_end(
        "asyncio_tornado_asyncio",
        &["--port", &port, "--interval-ms", "50", "--messages", "4"],
    );
    assert_eq!(lines, vec!["b'Hello'"; 4]);
}

#[test]
fn asyncio_router_router_peers_talk_until_the_loop_ends() {
    fresh();
    let url = format!("inproc://router-router-{}", std::process::id());
    let lines = run_to_end(
        "asyncio_router_router",
        &["--url", &url, "--interval-ms", "50", "--run-ms", "600"],
    );
    for expected in [
        "Server received [b'romeo', b'', b'cheers']",
        "Server received [b'sierra', b'', b'cheers']",
        "romeo received [b'server', b'', b'whatup']",
        "sierra received [b'server', b'', b'whatup']",
    ] {
        let times = lines.iter().filter(|l| *l == expected).count();
        assert!(times >= 3, "{expected:?} {times} times in {lines:?}");
    }
    // Every request was answered: no reply without its request, and at most
    // the last request of each client is still in flight when the loop ends.
    for name in ["romeo", "sierra"] {
        let asked = lines
            .iter()
            .filter(|l| l.contains(&format!("b'{name}'")))
            .count();
        let answered = lines.iter().filter(|l| l.starts_with(name)).count();
        assert!(
            answered <= asked && asked <= answered + 1,
            "{name}: {lines:?}"
        );
    }
}

#[test]
fn asyncio_helloworld_pubsub_dealerrouter_switches_the_language() {
    fresh();
    // The example binds the port and the one after it.
    let port = free_ports(2).to_string();
    let mut proc = Proc::spawn(
        "asyncio_helloworld_pubsub_dealerrouter",
        &[
            "--port",
            &port,
            "--pub-ms",
            "50",
            "--deal-ms",
            "300",
            "--settle-ms",
            "100",
        ],
    );
    proc.expect_containing("Current libzmq version is ", STEP);
    for line in [
        "Setting up world sub",
        "World sub initialized",
        "Command router initialized",
        "Command dealer initialized",
        "world sub; topic: b'world'\tmessage: b'Hello World'",
        "message received world: Hello World",
        "Command deal: Change that language!",
        "Command rout; Sender ID: b'lang_dealer';\tmessage: b'Change that language!'",
        "Changed language! New language is: jap",
        "",
        "world pub: Hello Sekai",
        "world sub; topic: b'world'\tmessage: b'Hello Sekai'",
        "message received world: Hello Sekai",
        "Changed language! New language is: eng",
        "world pub: Hello World",
    ] {
        proc.expect_line(line, STEP);
    }
}

/// Starts an echo server on a free port and has a pyzmq DEALER (identity
/// `py`) send it five messages; returns the server, still running.
fn echo_with_python_client(name: &str) -> Proc {
    let python = tx0mq_test_support::python::interop_env(name).expect("checked by the test");
    let endpoint = tcp();
    let server = Proc::spawn(name, &["--endpoint", &endpoint]);
    let mut client = python.run_peer("pyzmq_loops.py", &["echo-client", &endpoint, "5"]);
    let status = client.wait(STEP);
    assert!(status.success(), "{:?}", client.transcript());
    let echoed: Vec<String> = (0..5).map(|n| format!("echoed [b'hello {n}']")).collect();
    assert_eq!(client.transcript(), echoed);
    server
}

#[test]
fn interop_eventloop_echo_echoes_a_python_dealer() {
    let _python = python_or_skip!("interop_eventloop_echo_echoes_a_python_dealer");
    fresh();
    let mut server = echo_with_python_client("eventloop_echo");
    for n in 0..5 {
        server.expect_line(&format!("[b'py', b'hello {n}']"), STEP);
    }
}

#[test]
fn interop_eventloop_echostream_echoes_a_python_dealer() {
    let _python = python_or_skip!("interop_eventloop_echostream_echoes_a_python_dealer");
    fresh();
    let mut server = echo_with_python_client("eventloop_echostream");
    for n in 0..5 {
        server.expect_line(&format!("b'py' b'hello {n}'"), STEP);
    }
}

#[test]
fn interop_eventloop_echofuture_echoes_a_python_dealer() {
    let _python = python_or_skip!("interop_eventloop_echofuture_echoes_a_python_dealer");
    fresh();
    let mut server = echo_with_python_client("eventloop_echofuture");
    // Like the original, it prints nothing while it echoes.
    assert_eq!(server.drain(), &[] as &[String]);
}

/// One HTTP request over loopback; the whole response.
fn http(port: u16, request: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the web server");
    stream.set_read_timeout(Some(STEP)).expect("read timeout");
    stream
        .write_all(request.as_bytes())
        .expect("send the request");
    // Up to the end or an error: a server that refuses a request may reset
    // the connection after its answer.
    let mut response = Vec::new();
    let mut chunk = [0; 4096];
    while let Ok(n @ 1..) = stream.read(&mut chunk) {
        response.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&response).into_owned()
}

#[test]
fn eventloop_asyncweb_serves_the_workers_reply_and_stays_responsive() {
    fresh();
    let worker = tcp();
    let mut web = Proc::spawn(
        "eventloop_asyncweb",
        &[
            "--port",
            "0",
            "--interface",
            "127.0.0.1",
            "--worker",
            &worker,
            "--min-delay-ms",
            "300",
            "--max-delay-ms",
            "300",
        ],
    );
    let listening = web.expect_containing("Listening on 127.0.0.1:", STEP);
    let port: u16 = listening
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port in the Listening line");

    // Two requests at once: the worker answers one after the other, and
    // the loop keeps printing dots meanwhile.
    let pages: Vec<_> = (0..2)
        .map(|_| std::thread::spawn(move || http(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")))
        .collect();
    let mut bodies: Vec<String> = pages
        .into_iter()
        .map(|page| page.join().expect("the request thread"))
        .map(|response| {
            assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response:?}");
            response
                .split("\r\n\r\n")
                .nth(1)
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    bodies.sort();
    assert_eq!(bodies, ["hello to you too, #0", "hello to you too, #1"]);

    let not_found = http(port, "GET /nope HTTP/1.1\r\n\r\n");
    assert!(
        not_found.starts_with("HTTP/1.1 404 Not Found\r\n"),
        "{not_found:?}"
    );
    let not_allowed = http(port, "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert!(not_allowed.starts_with("HTTP/1.1 405 "), "{not_allowed:?}");
    let oversized = http(
        port,
        &format!("GET / HTTP/1.1\r\nX: {}\r\n", "y".repeat(8_300)),
    );
    assert!(oversized.starts_with("HTTP/1.1 400 "), "{oversized:?}");
    let garbage = http(port, "hello\r\n\r\n");
    assert!(garbage.starts_with("HTTP/1.1 400 "), "{garbage:?}");

    web.expect_line("worker received b'hello'", STEP);
    // While the worker pauses, the loop prints dots.
    let between = web.line(STEP);
    assert!(
        between.starts_with('.'),
        "no dots while waiting: {between:?}"
    );
    web.expect_containing("finishing with 'hello to you too, #", STEP);
    web.expect_containing("finishing with 'hello to you too, #", STEP);
    web.signal("-INT");
    web.wait(STEP);
    assert!(web.transcript().iter().any(|l| l.ends_with(" Interrupted")));
}

#[test]
fn gevent_poll_reads_ten_messages_from_two_receivers() {
    fresh();
    let tag = std::process::id();
    let (first, second) = (format!("inproc://p1-{tag}"), format!("inproc://p2-{tag}"));
    let lines = run_to_end(
        "gevent_poll",
        &[
            "--first",
            &first,
            "--second",
            &second,
            "--interval-ms",
            "30",
        ],
    );
    let mut expected: Vec<String> = (0..10)
        .map(|i| format!("Message from receiver{}: b'test {i}'", i % 2 + 1))
        .collect();
    expected.push("10 messages received".into());
    assert_eq!(lines, expected);
}

#[test]
fn gevent_reqrep_client_gets_nine_replies_through_the_broker() {
    fresh();
    let (front, back) = (free_port().to_string(), free_port().to_string());
    let lines = run_to_end(
        "gevent_reqrep",
        &["--frontend-port", &front, "--backend-port", &back],
    );
    let requests = lines
        .iter()
        .filter(|l| *l == "Received request:  b'Hello'")
        .count();
    assert_eq!(requests, 9, "{lines:?}");
    let replies: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("Received reply"))
        .collect();
    let expected: Vec<String> = (1..=9)
        .map(|n| format!("Received reply  {n} [ b'World' ]"))
        .collect();
    assert_eq!(replies, expected.iter().collect::<Vec<_>>());
}

/// What `gevent_simple` prints for the original's five objects.
const RECEIVED: [&str; 6] = [
    "received python object: ('this', 'is', 'a', 'python', 'tuple')",
    "received python object: {'hi': 1234}",
    "received python object: ({'this': ['is a more complicated object', ':)']}, 42, 42, 42)",
    "received python object: foobar",
    "received python object: quit",
    "exiting.",
];

#[test]
fn gevent_simple_sends_five_objects_on_timers() {
    fresh();
    let dir = TempDir::new("gevent-simple");
    let endpoint = dir.ipc("zmqtest");
    let lines = run_to_end(
        "gevent_simple",
        &[
            "--endpoint",
            &endpoint,
            "--unit-ms",
            "100",
            "--print-ms",
            "120",
        ],
    );
    assert_eq!(lines[0], "<class 'tx0mq::connections::ZmqFactory'>");
    assert_eq!(lines[1], "printing every half second");
    let objects: Vec<&str> = lines
        .iter()
        .map(String::as_str)
        .filter(|l| *l != "printing every half second")
        .skip(1)
        .collect();
    assert_eq!(objects, RECEIVED);
    let ticks = lines
        .iter()
        .filter(|l| *l == "printing every half second")
        .count();
    assert!(
        ticks >= 3,
        "the timer printed {ticks} times over 400 ms: {lines:?}"
    );
}

#[test]
fn interop_gevent_simple_pickles_are_read_by_pyzmq() {
    let python = python_or_skip!("interop_gevent_simple_pickles_are_read_by_pyzmq");
    fresh();
    let dir = TempDir::new("gevent-simple-push");
    let endpoint = dir.ipc("zmqtest");
    let mut ours = Proc::spawn(
        "gevent_simple",
        &[
            "--endpoint",
            &endpoint,
            "--unit-ms",
            "300",
            "--role",
            "push",
        ],
    );
    let mut theirs = python.run_peer("pyzmq_loops.py", &["pickle-pull", &endpoint]);
    assert!(theirs.wait(STEP).success(), "{:?}", theirs.transcript());
    assert_eq!(
        theirs.transcript(),
        [
            "got ('this', 'is', 'a', 'python', 'tuple')",
            "got {'hi': 1234}",
            "got ({'this': ['is a more complicated object', ':)']}, 42, 42, 42)",
            "got 'foobar'",
            "got 'quit'",
        ]
    );
    assert!(ours.wait(STEP).success());
}

#[test]
fn interop_gevent_simple_reads_pyzmq_pickles_and_skips_garbage() {
    let python = python_or_skip!("interop_gevent_simple_reads_pyzmq_pickles_and_skips_garbage");
    fresh();
    let dir = TempDir::new("gevent-simple-pull");
    let endpoint = dir.ipc("zmqtest");
    let mut theirs = python.run_peer("pyzmq_loops.py", &["pickle-push", &endpoint]);
    theirs.expect_line("bound", STEP);
    let mut ours = Proc::spawn(
        "gevent_simple",
        &["--endpoint", &endpoint, "--print-ms", "0", "--role", "pull"],
    );
    ours.expect_line("printing every half second", STEP);
    theirs.write_stdin("go\n");
    let malformed = ours.expect_containing("malformed object", STEP);
    assert!(malformed.contains("from the PUSH peer"), "{malformed:?}");
    for line in RECEIVED {
        ours.expect_line(line, STEP);
    }
    assert!(ours.wait(STEP).success());
    theirs.close_stdin();
    theirs.wait(STEP);
}

#[test]
fn bad_flags_and_endpoints_are_refused() {
    fresh();
    // A count of zero would never end: clap refuses it (status 2).
    for (name, flag) in [
        ("gevent_poll", "--messages"),
        ("asyncio_coroutines", "--messages"),
        ("eventloop_coroutines", "--messages"),
        ("asyncio_tornado_asyncio", "--messages"),
    ] {
        let mut proc = Proc::spawn(name, &[flag, "0"]);
        assert_eq!(proc.wait(STEP).code(), Some(2), "{name} {flag} 0");
    }
    // The dealer-router port is the next one: 65535 has none (status 1,
    // before anything is bound or printed).
    let mut proc = Proc::spawn(
        "asyncio_helloworld_pubsub_dealerrouter",
        &["--port", "65535"],
    );
    assert_eq!(proc.wait(STEP).code(), Some(1));
    assert!(proc.transcript().is_empty(), "{:?}", proc.transcript());
    for name in [
        "eventloop_echo",
        "eventloop_echostream",
        "eventloop_echofuture",
    ] {
        let mut proc = Proc::spawn(name, &["--endpoint", "nowhere"]);
        assert_eq!(proc.wait(STEP).code(), Some(1), "{name} --endpoint nowhere");
    }
}
