"""A Clone server and client in Python (plain pyzmq), speaking the zguide's
Clone protocol of models three and four, for tests/examples_ch5.rs.

    clone_simple.py server [--snapshot EP] [--publisher EP] [--collector EP]
                           [--until N]
    clone_simple.py client [--snapshot EP] [--subscriber EP] [--publisher EP]
                           [--subtree PREFIX] [--interval-ms MS] [--updates N]
                           [--seed N] [--until N]

The wire protocol: an update is three frames, key, sequence (4 bytes,
big-endian, signed) and body. A client pushes its updates with sequence 0
to the server's PULL socket; the server numbers each, stores it and
publishes it. A client asks the server's ROUTER for a snapshot with
"ICANHAZ?" (and a subtree, model four); the server answers with every
entry (of the subtree) and then "KTHXBAI" carrying its sequence number (and
the subtree as body).

Printed lines are those of the Rust examples clonesrv3/clonecli3 (model
three) and clonesrv4/clonecli4 (with --subtree): "I: publishing update
%5d", "Sending state shapshot=N", "I: Received snapshot=N", "I: received
update=N"; with --until N the process stops once its sequence number is N,
printing "N messages handled" (server) or "N messages in" (client) and
"I: map holds K keys, digest HEX", HEX the FNV-1a (64 bits) of the entries
in key order, each key, NUL, body, newline. Each mode gives up after
DEADLINE seconds (it prints "DEADLINE" and exits 2).
"""

import argparse
import random
import struct
import sys
import time

import zmq

DEADLINE = 90.0


def pack(key, sequence, body):
    return [key, struct.pack("!i", sequence), body]


def unpack(frames):
    """(key, sequence, body) of an update, or None if it is malformed."""
    if len(frames) != 3 or len(frames[1]) != 4:
        return None
    return frames[0], struct.unpack("!i", frames[1])[0], frames[2]


def digest(kvmap):
    h = 0xCBF29CE484222325
    for key in sorted(kvmap):
        for byte in key + b"\0" + kvmap[key] + b"\n":
            h ^= byte
            h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "I: map holds %d keys, digest %016x" % (len(kvmap), h)


def store(kvmap, key, body):
    if key and body:
        kvmap[key] = body


def serve(args):
    ctx = zmq.Context.instance()
    snapshot = ctx.socket(zmq.ROUTER)
    snapshot.sndhwm = 0
    snapshot.bind(args.snapshot)
    publisher = ctx.socket(zmq.PUB)
    publisher.bind(args.publisher)
    collector = ctx.socket(zmq.PULL)
    collector.bind(args.collector)
    poller = zmq.Poller()
    poller.register(collector, zmq.POLLIN)
    poller.register(snapshot, zmq.POLLIN)

    sequence = 0
    kvmap = {}
    give_up = time.monotonic() + DEADLINE
    while time.monotonic() < give_up:
        ready = dict(poller.poll(100))
        if collector in ready:
            update = unpack(collector.recv_multipart())
            if update is None:
                print("E: bad update, dropped")
                continue
            key, _, body = update
            sequence += 1
            publisher.send_multipart(pack(key, sequence, body))
            store(kvmap, key, body)
            print("I: publishing update %5d" % sequence)
            if args.until is not None and sequence >= args.until:
                print("%d messages handled" % sequence)
                print(digest(kvmap), flush=True)
                time.sleep(0.2)  # the last update on its way
                return 0
        if snapshot in ready:
            msg = snapshot.recv_multipart()
            if len(msg) not in (2, 3) or msg[1] != b"ICANHAZ?":
                print("E: bad request, ignored")
                continue
            identity, subtree = msg[0], msg[2] if len(msg) == 3 else b""
            for key in sorted(kvmap):
                if key.startswith(subtree):
                    snapshot.send_multipart([identity] + pack(key, 0, kvmap[key]))
            print("Sending state shapshot=%d" % sequence)
            snapshot.send_multipart([identity] + pack(b"KTHXBAI", sequence, subtree))
        sys.stdout.flush()
    print("DEADLINE", flush=True)
    return 2


def client(args):
    ctx = zmq.Context.instance()
    snapshot = ctx.socket(zmq.DEALER)
    snapshot.linger = 0
    snapshot.connect(args.snapshot)
    subscriber = ctx.socket(zmq.SUB)
    subscriber.linger = 0
    subtree = args.subtree.encode()
    subscriber.setsockopt(zmq.SUBSCRIBE, subtree)
    subscriber.connect(args.subscriber)
    publisher = ctx.socket(zmq.PUSH)
    publisher.linger = 1000
    publisher.connect(args.publisher)
    rng = random.Random(args.seed)
    give_up = time.monotonic() + DEADLINE

    kvmap = {}
    snapshot.send_multipart([b"ICANHAZ?", subtree] if subtree else [b"ICANHAZ?"])
    while True:
        if not snapshot.poll(max(0, int((give_up - time.monotonic()) * 1000))):
            print("DEADLINE", flush=True)
            return 2
        entry = unpack(snapshot.recv_multipart())
        if entry is None:
            print("E: bad snapshot entry, ignored")
            continue
        key, sequence, body = entry
        if key == b"KTHXBAI":
            print("I: Received snapshot=%d" % sequence, flush=True)
            break
        store(kvmap, key, body)

    def finished():
        if args.until is not None and sequence >= args.until:
            print("%d messages in" % sequence)
            print(digest(kvmap), flush=True)
            return True
        return False

    if finished():
        return 0
    interval = args.interval_ms / 1000.0
    alarm = time.monotonic() + interval
    sent = 0
    while time.monotonic() < give_up:
        wait = max(0.0, alarm - time.monotonic())
        if subscriber.poll(int(wait * 1000) if args.updates is None or sent < args.updates else 100):
            update = unpack(subscriber.recv_multipart())
            if update is None:
                print("E: bad update, ignored")
            elif update[1] > sequence:
                key, sequence, body = update
                store(kvmap, key, body)
                print("I: received update=%d" % sequence)
                if finished():
                    return 0
        if (args.updates is None or sent < args.updates) and time.monotonic() >= alarm:
            key = subtree + b"%d" % rng.randint(1, 10000)
            body = b"%d" % rng.randint(1, 1000000)
            publisher.send_multipart(pack(key, 0, body))
            store(kvmap, key, body)
            sent += 1
            alarm = time.monotonic() + interval
        sys.stdout.flush()
    print("DEADLINE", flush=True)
    return 2


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["server", "client"])
    parser.add_argument("--snapshot", default="tcp://localhost:5556")
    parser.add_argument("--publisher")
    parser.add_argument("--subscriber", default="tcp://localhost:5557")
    parser.add_argument("--collector", default="tcp://*:5558")
    parser.add_argument("--subtree", default="")
    parser.add_argument("--interval-ms", type=int, default=1000)
    parser.add_argument("--updates", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--until", type=int)
    args = parser.parse_args()
    if args.mode == "server":
        if args.snapshot == "tcp://localhost:5556":
            args.snapshot = "tcp://*:5556"
        args.publisher = args.publisher or "tcp://*:5557"
        return serve(args)
    args.publisher = args.publisher or "tcp://localhost:5558"
    return client(args)


if __name__ == "__main__":
    sys.exit(main())
