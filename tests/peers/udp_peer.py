"""Python peers (plain sockets and pyzmq) for the zguide's chapter 7 and 8
ports, for tests/examples_ch78.rs.

    udp_peer.py ping --port P --broadcast ADDR [--interval-ms MS]
    udp_peer.py beacon --port P --broadcast ADDR [--interval-ms MS]
    udp_peer.py fetch --connect EP --output PATH [--pipeline N] [--chunk N]
    udp_peer.py serve --bind EP --file PATH
    udp_peer.py chat --address IP --port P --user NAME

ping: the UDP ping of udpping1/udpping2. It listens on 0.0.0.0:P (with
SO_REUSEADDR and SO_BROADCAST, so it shares the port with the example) and
broadcasts a one-byte beacon b"!" to ADDR:P every interval, but from a
second socket on a port of the kernel's choice, so that both sides can tell
each other's beacons from their own by the source port. It prints
"SENDING FROM <port>" first, then "Found peer <address>:<port>" for each
beacon from another port than its sending one (the example's).

beacon: the interface agent of udpping3: it broadcasts its UUID (32 hex
digits) from 0.0.0.0:P every interval, and prints "UUID <hex>" first, then
"JOINED <hex>" the first time it hears another UUID.

fetch: the credit-based client of fileio3: up to N requests
[b"fetch", offset, chunk] in flight on a DEALER, one more per chunk, until
a chunk is shorter than asked; writes the chunks to PATH and prints
"<chunks> chunks received, <bytes> bytes".

serve: the fetch server of fileio2/fileio3: a ROUTER answering each
[identity, b"fetch", offset, size] with [identity, the file's bytes there].
It prints "READY" once bound.

chat: a dechat peer: a PUB bound at tcp://IP:P, a SUB connected to port P of
every address of IP's /24; each line of stdin is published as
"NAME: line", each message heard printed. End of input ends it.

Each mode gives up after DEADLINE seconds (it prints "DEADLINE" and exits 2).
"""

import argparse
import select
import socket
import sys
import time
import uuid

import zmq

DEADLINE = 60.0


def udp_socket(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    sock.bind(("", port))
    return sock


def beacons(args, listen, sender, payload, heard):
    """Broadcasts `payload` from `sender` every interval and hands each
    datagram read on `listen` to heard(data, address), until the deadline."""
    interval = args.interval_ms / 1000.0
    end = time.time() + DEADLINE
    ping_at = time.time()
    while time.time() < end:
        timeout = max(0.0, ping_at - time.time())
        readable, _, _ = select.select([listen], [], [], timeout)
        if readable:
            data, address = listen.recvfrom(64)
            heard(data, address)
        if time.time() >= ping_at:
            sender.sendto(payload, (args.broadcast, args.port))
            ping_at = time.time() + interval
    print("DEADLINE")
    sys.exit(2)


def ping(args):
    listen = udp_socket(args.port)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sender.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    sender.bind(("", 0))
    own = sender.getsockname()[1]
    print("SENDING FROM %d" % own)

    def heard(data, address):
        if address[1] != own:
            print("Found peer %s:%d" % address)

    beacons(args, listen, sender, b"!", heard)


def beacon(args):
    sock = udp_socket(args.port)
    me = uuid.uuid4().hex.encode()
    print("UUID %s" % me.decode())
    known = set()

    def heard(data, address):
        if data != me and data not in known:
            known.add(data)
            print("JOINED %s" % data.decode("ascii", "replace"))

    beacons(args, sock, sock, me, heard)


def fetch(args):
    ctx = zmq.Context()
    dealer = ctx.socket(zmq.DEALER)
    dealer.sndhwm = dealer.rcvhwm = args.pipeline
    dealer.connect(args.connect)
    credit, offset, chunks, total = args.pipeline, 0, 0, 0
    with open(args.output, "wb") as out:
        while True:
            while credit:
                dealer.send_multipart([b"fetch", b"%d" % offset, b"%d" % args.chunk])
                offset += args.chunk
                credit -= 1
            if not dealer.poll(DEADLINE * 1000):
                print("DEADLINE")
                sys.exit(2)
            chunk = dealer.recv()
            chunks += 1
            credit += 1
            total += len(chunk)
            out.write(chunk)
            if len(chunk) < args.chunk:
                break
    print("%d chunks received, %d bytes" % (chunks, total))
    dealer.close(linger=0)
    ctx.term()


def serve(args):
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.bind(args.bind)
    print("READY")
    with open(args.file, "rb") as f:
        while router.poll(DEADLINE * 1000):
            identity, command, offset, size = router.recv_multipart()
            assert command == b"fetch"
            f.seek(int(offset))
            router.send_multipart([identity, f.read(int(size))])
    print("DEADLINE")
    sys.exit(2)


def chat(args):
    ctx = zmq.Context()
    masked = args.address.rsplit(".", 1)[0]
    listener = ctx.socket(zmq.SUB)
    for last in range(1, 255):
        listener.connect("tcp://%s.%d:%d" % (masked, last, args.port))
    listener.setsockopt(zmq.SUBSCRIBE, b"")
    bcast = ctx.socket(zmq.PUB)
    bcast.bind("tcp://%s:%d" % (args.address, args.port))
    print("READY")
    poller = zmq.Poller()
    poller.register(listener, zmq.POLLIN)
    poller.register(sys.stdin.fileno(), zmq.POLLIN)
    end = time.time() + DEADLINE
    while time.time() < end:
        events = dict(poller.poll(1000))
        if listener in events:
            print(listener.recv_string())
        if sys.stdin.fileno() in events:
            line = sys.stdin.readline()
            if not line:
                return
            bcast.send_string("%s: %s" % (args.user, line.rstrip("\n")))
    print("DEADLINE")
    sys.exit(2)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["ping", "beacon", "fetch", "serve", "chat"])
    parser.add_argument("--port", type=int, default=9999)
    parser.add_argument("--broadcast", default="255.255.255.255")
    parser.add_argument("--interval-ms", type=int, default=1000)
    parser.add_argument("--connect", default="tcp://127.0.0.1:6000")
    parser.add_argument("--output", default="received")
    parser.add_argument("--pipeline", type=int, default=10)
    parser.add_argument("--chunk", type=int, default=250000)
    parser.add_argument("--bind", default="tcp://*:6000")
    parser.add_argument("--file", default="testdata")
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--user", default="python")
    args = parser.parse_args()
    modes = {"ping": ping, "beacon": beacon, "fetch": fetch, "serve": serve, "chat": chat}
    modes[args.mode](args)


if __name__ == "__main__":
    main()
