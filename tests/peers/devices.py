"""Plain pyzmq peers of the library's devices, for connections/tests/devices.rs
and tests/examples_devices.rs.

    devices.py statistics --front EP --back EP --control EP [--count N]
    devices.py producer --url EP --ident I [--count N]
    devices.py client --url EP [--count N]

statistics: pushes COUNT messages (two frames each) into a streamer device's
frontend, pulls them from its backend, then asks the device's REP control
for STATISTICS and reads the eight 64-bit counters in the host's byte order,
as a libzmq zmq_proxy_steerable client does. It prints

    received N
    statistics fi fbi fo fbo bi bbi bo bbo

and, after a TERMINATE, "terminated". A reply that is not eight frames of
eight bytes prints "bad statistics ..." and exits 1.

producer: a producer of pyzmq's examples/device/device.py: PUSH connected to
URL, sending COUNT messages "IDENT: TIME" (whole seconds), one every
--interval-ms, then "Producer IDENT done".

client: the client of pyzmq's examples/device/client.py under Python 3:
a REQ connected to URL sends its process id COUNT times, printing
"SECONDS REPLY" for each reply, then "client done".

Each mode gives up after DEADLINE seconds (it prints "DEADLINE", exits 2).
"""

import argparse
import os
import struct
import sys
import time

import zmq

DEADLINE = 60.0


def deadline_socket(ctx, kind):
    s = ctx.socket(kind)
    s.setsockopt(zmq.LINGER, 1000)
    s.setsockopt(zmq.RCVTIMEO, int(DEADLINE * 1000))
    return s


def statistics(args):
    ctx = zmq.Context()
    push = deadline_socket(ctx, zmq.PUSH)
    push.connect(args.front)
    pull = deadline_socket(ctx, zmq.PULL)
    pull.connect(args.back)
    control = deadline_socket(ctx, zmq.REQ)
    control.connect(args.control)
    for i in range(args.count):
        push.send_multipart([b"part", str(i).encode()])
    got = 0
    try:
        for _ in range(args.count):
            pull.recv_multipart()
            got += 1
        print(f"received {got}")
        control.send(b"STATISTICS")
        reply = control.recv_multipart()
    except zmq.Again:
        print("DEADLINE")
        sys.exit(2)
    if len(reply) != 8 or any(len(f) != 8 for f in reply):
        print(f"bad statistics {[len(f) for f in reply]}")
        sys.exit(1)
    counters = [struct.unpack("=Q", f)[0] for f in reply]
    print("statistics " + " ".join(str(c) for c in counters))
    control.send(b"TERMINATE")
    try:
        control.recv()
    except zmq.Again:
        print("DEADLINE")
        sys.exit(2)
    print("terminated")
    ctx.destroy(linger=1000)


def producer(args):
    ctx = zmq.Context()
    s = ctx.socket(zmq.PUSH)
    s.connect(args.url)
    print(f"Producing {args.ident}")
    for _ in range(args.count):
        s.send(f"{args.ident}: {time.time():.0f}".encode())
        time.sleep(args.interval_ms / 1000)
    print(f"Producer {args.ident} done")
    s.close(linger=int(DEADLINE * 1000))
    ctx.term()


def client(args):
    ctx = zmq.Context()
    s = deadline_socket(ctx, zmq.REQ)
    s.connect(args.url)
    pid = str(os.getpid()).encode()
    for _ in range(args.count):
        start = time.time()
        s.send(pid)
        try:
            reply = s.recv()
        except zmq.Again:
            print("DEADLINE")
            sys.exit(2)
        print(time.time() - start, reply.decode())
    print("client done")
    ctx.destroy(linger=0)


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    p = sub.add_parser("statistics")
    p.add_argument("--front", required=True)
    p.add_argument("--back", required=True)
    p.add_argument("--control", required=True)
    p.add_argument("--count", type=int, default=100)
    p = sub.add_parser("producer")
    p.add_argument("--url", required=True)
    p.add_argument("--ident", required=True)
    p.add_argument("--count", type=int, default=10)
    p.add_argument("--interval-ms", type=int, default=1000)
    p = sub.add_parser("client")
    p.add_argument("--url", required=True)
    p.add_argument("--count", type=int, default=3)
    args = parser.parse_args()
    modes = {"statistics": statistics, "producer": producer, "client": client}
    modes[args.mode](args)


if __name__ == "__main__":
    main()
