#!/usr/bin/env python3
"""Paranoid Pirate peers in plain pyzmq, driven by tests/examples_pirates.rs.

    pirates.py ppqueue [--frontend ADDR] [--backend ADDR]
    pirates.py ppworker [--connect ADDR] [--seed N] [--work-ms MS]
                        [--overload-ms MS]

They speak the Paranoid Pirate Protocol as the zguide's Python ppqueue and
ppworker do (one-frame PPP_READY "\\x01" and PPP_HEARTBEAT "\\x02" signals, a
heartbeat each second, three missed heartbeats and a peer is dead, the
worker's reconnect interval doubling from one second) and print the same
lines, so the tests can put them on either side of the Rust ports. Each is a
blocking poll loop, as the originals are. They run until killed.
"""

import argparse
import collections
import random
import sys
import time

import zmq

HEARTBEAT_LIVENESS = 3
HEARTBEAT_INTERVAL = 1.0  # seconds
INTERVAL_INIT = 1.0
INTERVAL_MAX = 32.0

PPP_READY = b"\x01"
PPP_HEARTBEAT = b"\x02"


def say(line):
    print(line, flush=True)


def ppqueue(args):
    context = zmq.Context()
    frontend = context.socket(zmq.ROUTER)
    backend = context.socket(zmq.ROUTER)
    frontend.bind(args.frontend)
    backend.bind(args.backend)

    # address -> expiry, in the order the workers became ready
    ready = collections.OrderedDict()
    next_heartbeat = time.monotonic() + HEARTBEAT_INTERVAL

    while True:
        poller = zmq.Poller()
        poller.register(backend, zmq.POLLIN)
        if ready:
            poller.register(frontend, zmq.POLLIN)
        wait = max(0.0, next_heartbeat - time.monotonic())
        events = dict(poller.poll(wait * 1000))

        if events.get(backend) == zmq.POLLIN:
            address, *body = backend.recv_multipart()
            ready.pop(address, None)
            ready[address] = time.monotonic() + HEARTBEAT_INTERVAL * HEARTBEAT_LIVENESS
            if len(body) == 1:
                if body[0] not in (PPP_READY, PPP_HEARTBEAT):
                    say("E: Invalid message from worker: %s" % body)
            elif body:
                frontend.send_multipart(body)

        if events.get(frontend) == zmq.POLLIN and ready:
            request = frontend.recv_multipart()
            worker, _ = ready.popitem(last=False)
            backend.send_multipart([worker] + request)

        now = time.monotonic()
        if now >= next_heartbeat:
            for worker in ready:
                backend.send_multipart([worker, PPP_HEARTBEAT])
            next_heartbeat = now + HEARTBEAT_INTERVAL
        for worker in [w for w, expiry in ready.items() if now > expiry]:
            say("W: Idle worker expired: %s" % worker)
            del ready[worker]


def ppworker(args):
    rng = random.Random(args.seed)
    context = zmq.Context()
    poller = zmq.Poller()

    def connect():
        sock = context.socket(zmq.DEALER)
        name = "%04X-%04X" % (rng.randint(0, 0x10000), rng.randint(0, 0x10000))
        sock.setsockopt(zmq.IDENTITY, name.encode())
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(args.connect)
        poller.register(sock, zmq.POLLIN)
        sock.send(PPP_READY)
        return sock

    sock = connect()
    liveness = HEARTBEAT_LIVENESS
    interval = INTERVAL_INIT
    next_heartbeat = time.monotonic() + HEARTBEAT_INTERVAL
    cycles = 0
    work = args.work_ms / 1000.0
    overload = args.overload_ms / 1000.0

    while True:
        events = dict(poller.poll(HEARTBEAT_INTERVAL * 1000))
        if events.get(sock) == zmq.POLLIN:
            frames = sock.recv_multipart()
            if len(frames) == 3:
                cycles += 1
                if cycles > 3 and rng.randint(0, 5) == 0:
                    say("I: Simulating a crash")
                    return
                if cycles > 3 and rng.randint(0, 5) == 0:
                    say("I: Simulating CPU overload")
                    time.sleep(overload)
                say("I: Normal reply")
                sock.send_multipart(frames)
                liveness = HEARTBEAT_LIVENESS
                time.sleep(work)
            elif frames == [PPP_HEARTBEAT]:
                say("I: Queue heartbeat")
                liveness = HEARTBEAT_LIVENESS
            else:
                say("E: Invalid message: %s" % frames)
            interval = INTERVAL_INIT
        else:
            liveness -= 1
            if liveness == 0:
                say("W: Heartbeat failure, can't reach queue")
                say("W: Reconnecting in %0.2fs..." % interval)
                time.sleep(interval)
                interval = min(interval * 2, INTERVAL_MAX)
                poller.unregister(sock)
                sock.close()
                sock = connect()
                liveness = HEARTBEAT_LIVENESS
        if time.monotonic() > next_heartbeat:
            next_heartbeat = time.monotonic() + HEARTBEAT_INTERVAL
            say("I: Worker heartbeat")
            sock.send(PPP_HEARTBEAT)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    queue = sub.add_parser("ppqueue")
    queue.add_argument("--frontend", default="tcp://*:5555")
    queue.add_argument("--backend", default="tcp://*:5556")
    worker = sub.add_parser("ppworker")
    worker.add_argument("--connect", default="tcp://localhost:5556")
    worker.add_argument("--seed", type=int, default=None)
    worker.add_argument("--work-ms", type=int, default=1000)
    worker.add_argument("--overload-ms", type=int, default=3000)
    args = parser.parse_args()
    try:
        {"ppqueue": ppqueue, "ppworker": ppworker}[args.mode](args)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
