//! UDP ports on loopback: a round trip between two of our ports, broadcast
//! (refused without the flag, delivered with it, on 127.255.255.255),
//! multicast (join, TTL and loopback options, a datagram to the group comes
//! back to its own member, leave), stopping, and a panicking protocol.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use tx0mq_net::udp::{DatagramProtocol, UdpCtx};
use tx0mq_net::{Error, ReactorNet, UdpPort};
use tx0mq_test_support::log as logs;
use tx0mq_test_support::reactor::{catching_reactor, iterate_until, reactor, wait_for};

#[derive(Default)]
struct Mail {
    got: Vec<(Vec<u8>, SocketAddr)>,
    started: u32,
    stopped: u32,
}

/// Records each datagram; answers `ping` with `pong`.
struct Post;

impl DatagramProtocol<Mail> for Post {
    fn start_protocol(&mut self, cx: &mut UdpCtx<'_, Mail>) {
        cx.state.started += 1;
    }
    fn datagram_received(&mut self, cx: &mut UdpCtx<'_, Mail>, data: &[u8], addr: SocketAddr) {
        assert!(!data.starts_with(b"boom"), "the datagram protocol blew up");
        cx.state.got.push((data.to_vec(), addr));
        if data == b"ping" {
            cx.transport.write(b"pong", addr).expect("answer");
        }
    }
    fn stop_protocol(&mut self, cx: &mut UdpCtx<'_, Mail>) {
        cx.state.stopped += 1;
    }
}

fn loopback_port(reactor: &tx0mq_reactor::Reactor<Mail>) -> UdpPort<Mail> {
    reactor.listen_udp("127.0.0.1:0", Post).expect("listen")
}

#[test]
fn a_datagram_goes_round_trip_between_two_ports() {
    let reactor = reactor(Mail::default());
    let a = loopback_port(&reactor);
    let b = loopback_port(&reactor);
    assert_eq!(reactor.access_state(|s| s.started).expect("state"), 2);
    assert_ne!(a.get_host().port(), 0);
    assert_eq!(a.write(b"ping", b.get_host()).expect("send"), 4);
    iterate_until(&reactor, "ping and pong", |s| s.got.len() == 2);
    reactor
        .access_state(|s| {
            assert_eq!(s.got[0], (b"ping".to_vec(), a.get_host()));
            assert_eq!(s.got[1], (b"pong".to_vec(), b.get_host()));
        })
        .expect("state");
    // An empty datagram and a large one arrive whole.
    a.write(b"", b.get_host()).expect("send");
    let big = vec![0x5au8; 60_000];
    a.write(&big, b.get_host()).expect("send");
    iterate_until(&reactor, "two more", |s| s.got.len() == 4);
    reactor
        .access_state(|s| {
            assert!(s.got[2].0.is_empty());
            assert_eq!(s.got[3].0, big);
        })
        .expect("state");
}

#[test]
fn broadcast_is_refused_until_allowed() {
    let reactor = reactor(Mail::default());
    // Bound to the loopback network's broadcast address: it gets what is
    // sent there, and nothing else.
    let receiver = reactor
        .listen_udp(("127.255.255.255", 0), Post)
        .expect("listen");
    let sender = loopback_port(&reactor);
    let broadcast = SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(127, 255, 255, 255)),
        receiver.get_host().port(),
    );
    assert!(!sender.get_broadcast_allowed().expect("read"));
    match sender.write(b"nope", broadcast) {
        Err(Error::Io { context, source }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::PermissionDenied);
            assert!(context.contains("127.255.255.255"), "{context}");
        }
        other => panic!("expected the kernel's refusal, got {other:?}"),
    }
    sender.set_broadcast_allowed(true).expect("allow");
    assert!(sender.get_broadcast_allowed().expect("read"));
    sender.write(b"to all", broadcast).expect("send");
    iterate_until(&reactor, "the broadcast", |s| !s.got.is_empty());
    reactor
        .access_state(|s| assert_eq!(s.got[0].0, b"to all"))
        .expect("state");
}

#[test]
fn a_multicast_member_hears_its_group_until_it_leaves() {
    let reactor = reactor(Mail::default());
    let group = IpAddr::V4(Ipv4Addr::new(239, 255, 42, 99));
    // Bound to the group's address: it gets the group's datagrams only.
    let member = reactor.listen_udp((group, 0), Post).expect("listen");
    let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    member.join_group(group, any).expect("join");
    member.set_ttl(2).expect("ttl");
    assert_eq!(member.get_ttl().expect("ttl"), 2);
    member.set_loopback_mode(false).expect("loopback off");
    assert!(!member.get_loopback_mode().expect("read"));
    member.set_loopback_mode(true).expect("loopback on");
    assert!(member.get_loopback_mode().expect("read"));
    let to_group = SocketAddr::new(group, member.get_host().port());
    member.write(b"to the group", to_group).unwrap_or_else(|e| {
        panic!("{e}: sending multicast needs a route for 239.0.0.0/8 (a default route will do)")
    });
    iterate_until(&reactor, "the group's datagram", |s| !s.got.is_empty());
    reactor
        .access_state(|s| assert_eq!(s.got[0].0, b"to the group"))
        .expect("state");
    member.leave_group(group, any).expect("leave");
    let refused = member
        .leave_group(group, any)
        .expect_err("not a member any more");
    assert!(
        refused
            .to_string()
            .contains("leave multicast group 239.255.42.99"),
        "{refused}"
    );
    let mixed = member
        .join_group(group, IpAddr::V6(std::net::Ipv6Addr::LOCALHOST))
        .expect_err("an IPv4 group on an IPv6 interface");
    assert!(matches!(mixed, Error::Address { .. }));
}

#[test]
fn stop_listening_calls_stop_protocol_and_later_writes_fail() {
    let reactor = reactor(Mail::default());
    let port = loopback_port(&reactor);
    let addr = port.get_host();
    assert!(port.is_listening());
    let stopped = port.stop_listening();
    assert!(!port.is_listening());
    wait_for(&reactor, &stopped, "stop_listening");
    assert_eq!(reactor.access_state(|s| s.stopped).expect("state"), 1);
    let refused = port.write(b"x", addr).expect_err("stopped");
    assert!(matches!(refused, Error::Closed { .. }), "{refused}");
    assert!(port.stop_listening().called(), "stopping twice is harmless");
    // The port is free again.
    reactor
        .listen_udp(addr, Post)
        .expect("bind the same port again");
}

#[test]
fn a_paused_port_reads_nothing_until_resumed() {
    let reactor = reactor(Mail::default());
    let port = loopback_port(&reactor);
    let sender = loopback_port(&reactor);
    port.pause_producing();
    sender.write(b"held", port.get_host()).expect("send");
    for _ in 0..10 {
        reactor
            .iterate(std::time::Duration::from_millis(5))
            .expect("iterate");
    }
    assert!(reactor.access_state(|s| s.got.is_empty()).expect("state"));
    port.resume_producing().expect("resume");
    iterate_until(&reactor, "the held datagram", |s| s.got.len() == 1);
}

#[test]
fn a_panicking_datagram_protocol_is_logged_and_the_port_carries_on() {
    logs::capture();
    let reactor = catching_reactor(Mail::default());
    let port = reactor.listen_udp("127.0.0.1:0", Post).expect("listen");
    let sender = reactor.listen_udp("127.0.0.1:0", Post).expect("listen");
    sender.write(b"boom", port.get_host()).expect("send");
    sender.write(b"after", port.get_host()).expect("send");
    iterate_until(&reactor, "the datagram after the panic", |s| {
        s.got.iter().any(|(d, _)| d == b"after")
    });
    assert!(logs::contains(
        log::Level::Error,
        "its protocol panicked; the port carries on"
    ));
    assert!(port.is_listening());
}
