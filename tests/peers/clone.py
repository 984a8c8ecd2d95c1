"""A Clone model-six server and client in Python (plain pyzmq), speaking the
zguide's Clone protocol, for tests/examples_clone.rs.

    clone.py server (-p | -b) [--port N] [--peer N] [--state-pub EP]
                              [--state-sub EP]
    clone.py client [--address A] [--primary-port N] [--backup-port N]
                    [--updates N] [--interval-ms MS] [--ttl S] [--seed N]

The wire protocol: a key-value message is five frames, key, sequence (8
bytes, signed, big-endian), UUID (16 bytes), properties ("name=value\\n"
each) and body (empty: delete). A server answers ["ICANHAZ?", subtree] on
its ROUTER (PORT) with each key under the subtree, then "KTHXBAI" carrying
its sequence; publishes numbered updates and "HUGZ" every second on PORT+1;
collects clients' updates on a SUB at PORT+2. A pair watches each other with
the Binary Star protocol (state digits 1-4, every second); the passive one
keeps client updates on a pending list, crossed off by UUID as the master
publishes them, and publishes what is left when it takes over. A client
fails over when its server is silent for 5 seconds.

The printed lines are those of the Rust examples (clonesrv6, clonecli6),
log lines with a UTC timestamp. On SIGINT each mode prints its map,
"map: KEY=VALUE" per key in order, then "map: N keys", and exits 0. Each
mode gives up after DEADLINE seconds (it prints "DEADLINE" and exits 2).
"""

import argparse
import random
import signal
import struct
import sys
import time
import uuid

import zmq

DEADLINE = 120.0
HEARTBEAT = 1.0  # seconds, Binary Star
SERVER_TTL = 5.0  # seconds, client
SUBTREE = b"/client/"

PRIMARY, BACKUP, ACTIVE, PASSIVE = 1, 2, 3, 4


def log(message):
    print(time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()) + " " + message)


def encode(key, sequence, uid, props, body):
    prop_s = b"".join(b"%s=%s\n" % (k, v) for k, v in props.items())
    return [key, struct.pack("!q", sequence), uid, prop_s, body]


def decode(frames):
    """[key, sequence, uuid, props, body] or None (printed) if malformed."""
    if len(frames) != 5 or len(frames[1]) != 8:
        print("E: bad key-value message, ignored: %r" % (frames,))
        return None
    key, seq_s, uid, prop_s, body = frames
    props = {}
    for line in prop_s.split(b"\n"):
        parts = line.split(b"=")
        if len(parts) == 2:
            props[parts[0]] = parts[1]
    return [key, struct.unpack("!q", seq_s)[0], uid, props, body]


def ttl_of(msg):
    try:
        return float(msg[3].get(b"ttl", b"0"))
    except ValueError:
        return 0.0


def stamped(msg):
    """A copy whose relative ttl is now the time of expiry."""
    msg = [msg[0], msg[1], msg[2], dict(msg[3]), msg[4]]
    ttl = ttl_of(msg)
    if ttl:
        msg[3][b"ttl"] = repr(time.time() + ttl).encode()
    return msg


def store(kvmap, msg):
    if msg[4]:
        if msg[0]:
            kvmap[msg[0]] = msg
    else:
        kvmap.pop(msg[0], None)


def print_map(kvmap):
    for key in sorted(kvmap):
        print("map: %s=%s" % (key.decode(), kvmap[key][4].decode()))
    print("map: %d keys" % len(kvmap))


class Server:
    def __init__(self, args):
        self.primary = args.primary
        port, peer = (5556, 5566) if args.primary else (5566, 5556)
        self.port = args.port or port
        self.peer = args.peer or peer
        pub_ep = args.state_pub or ("tcp://*:5003" if args.primary else "tcp://*:5004")
        sub_ep = args.state_sub or (
            "tcp://localhost:5004" if args.primary else "tcp://localhost:5003"
        )
        self.state = PRIMARY if args.primary else BACKUP
        self.peer_expiry = time.monotonic() + 2 * HEARTBEAT
        self.kvmap = {} if args.primary else None
        self.sequence = 0
        self.pending = []
        self.master = False
        ctx = self.ctx = zmq.Context.instance()
        self.statepub = ctx.socket(zmq.PUB)
        self.statepub.bind(pub_ep)
        self.statesub = ctx.socket(zmq.SUB)
        self.statesub.setsockopt(zmq.SUBSCRIBE, b"")
        self.statesub.connect(sub_ep)
        self.voter = ctx.socket(zmq.ROUTER)
        self.voter.setsockopt(zmq.SNDHWM, 0)
        self.voter.bind("tcp://*:%d" % self.port)
        self.publisher = ctx.socket(zmq.PUB)
        self.publisher.bind("tcp://*:%d" % (self.port + 1))
        self.collector = ctx.socket(zmq.SUB)
        self.collector.setsockopt(zmq.SUBSCRIBE, b"")
        self.collector.bind("tcp://*:%d" % (self.port + 2))
        self.subscriber = ctx.socket(zmq.SUB)
        self.subscriber.setsockopt(zmq.SUBSCRIBE, b"")
        self.subscriber.connect("tcp://localhost:%d" % (self.peer + 1))

    # Binary Star: the state machine; returns True if a request is accepted.
    def event(self, peer):
        now = time.monotonic()
        before = self.state
        line = None
        if peer is None:  # a client request
            if self.state == BACKUP:
                return False
            if self.state in (PRIMARY, PASSIVE):
                if now < self.peer_expiry:
                    return False
                self.state = ACTIVE
                line = (
                    "I: request from client, ready as master"
                    if before == PRIMARY
                    else "I: failover successful, ready as master"
                )
        else:
            table = {
                (PRIMARY, BACKUP): ("I: connected to backup (slave), ready as master", ACTIVE),
                (PRIMARY, ACTIVE): ("I: connected to backup (master), ready as slave", PASSIVE),
                (BACKUP, ACTIVE): ("I: connected to primary (master), ready as slave", PASSIVE),
                (PASSIVE, PRIMARY): ("I: primary (slave) is restarting, ready as master", ACTIVE),
                (PASSIVE, BACKUP): ("I: backup (slave) is restarting, ready as master", ACTIVE),
            }
            if (self.state, peer) in ((ACTIVE, ACTIVE), (PASSIVE, PASSIVE)):
                raise SystemExit("E: fatal error - split brain, aborting")
            if (self.state, peer) in table:
                line, self.state = table[(self.state, peer)]
        if line:
            print(line)
        if before != self.state:
            if self.state == ACTIVE:
                self.become_master()
            else:
                self.become_slave()
        return True

    def publish(self, msg):
        self.sequence += 1
        msg[1] = self.sequence
        self.publisher.send_multipart(encode(*msg))
        store(self.kvmap, stamped(msg))

    def was_pending(self, msg):
        for i, held in enumerate(self.pending):
            if held[2] == msg[2]:
                del self.pending[i]
                return True
        return False

    def become_master(self):
        self.master = True
        if self.kvmap is None:
            self.kvmap = {}
        while self.pending:
            self.publish(self.pending.pop(0))
            log("I: publishing pending=%d" % self.sequence)

    def become_slave(self):
        self.master = False
        self.kvmap = None

    def snapshot(self, request):
        if len(request) != 3 or request[1] != b"ICANHAZ?":
            print("E: bad request, ignored: %r" % (request,))
            return
        identity, _, subtree = request
        for key in sorted(self.kvmap or {}):
            if key.startswith(subtree):
                self.voter.send_multipart([identity] + encode(*self.kvmap[key]))
        log("I: Sending state shapshot=%d" % self.sequence)
        end = encode(b"KTHXBAI", self.sequence, uuid.uuid4().bytes, {}, subtree)
        self.voter.send_multipart([identity] + end)

    def collect(self, msg):
        if self.master:
            self.publish(msg)
            log("I: publishing update=%d" % self.sequence)
        elif not self.was_pending(msg):
            self.pending.append(msg)

    def from_master(self, msg):
        if self.kvmap is None:
            self.kvmap = {}
            log("I: asking for snapshot from: tcp://localhost:%d" % self.peer)
            snap = self.ctx.socket(zmq.DEALER)
            snap.setsockopt(zmq.LINGER, 0)
            snap.setsockopt(zmq.RCVTIMEO, int(SERVER_TTL * 1000))
            snap.connect("tcp://localhost:%d" % self.peer)
            snap.send_multipart([b"ICANHAZ?", b""])
            try:
                while True:
                    got = decode(snap.recv_multipart())
                    if got is None:
                        continue
                    if got[0] == b"KTHXBAI":
                        self.sequence = got[1]
                        break
                    store(self.kvmap, got)
            except zmq.Again:
                print("E: no snapshot from the master, will ask again")
                self.kvmap = None
                return
            finally:
                snap.close()
            log("I: received snapshot=%d" % self.sequence)
        if msg[0] == b"HUGZ":
            return
        if not self.was_pending(msg):
            self.pending.append(msg)
        if msg[1] > self.sequence:
            self.sequence = msg[1]
            store(self.kvmap, stamped(msg))
            log("I: received update=%d" % self.sequence)

    def flush_ttl(self):
        if not self.master:
            return
        now = time.time()
        for key in sorted(self.kvmap):
            msg = self.kvmap[key]
            ttl = ttl_of(msg)
            if ttl and ttl <= now:
                del self.kvmap[key]
                self.sequence += 1
                gone = [key, self.sequence, msg[2], msg[3], b""]
                self.publisher.send_multipart(encode(*gone))
                log("I: publishing delete=%d" % self.sequence)

    def run(self):
        poller = zmq.Poller()
        for sock in (self.statesub, self.voter, self.collector, self.subscriber):
            poller.register(sock, zmq.POLLIN)
        give_up = time.monotonic() + DEADLINE
        next_beat = time.monotonic()
        while time.monotonic() < give_up:
            wait = max(0.0, next_beat - time.monotonic())
            ready = dict(poller.poll(int(wait * 1000)))
            if self.statesub in ready:
                frame = self.statesub.recv()
                if frame in (b"1", b"2", b"3", b"4"):
                    self.peer_expiry = time.monotonic() + 2 * HEARTBEAT
                    self.event(int(frame))
            if self.voter in ready:
                request = self.voter.recv_multipart()
                if self.event(None):
                    print("CLIENT REQUEST")
                    self.snapshot(request)
            if self.collector in ready:
                msg = decode(self.collector.recv_multipart())
                if msg is not None:
                    self.collect(msg)
            if self.subscriber in ready:
                msg = decode(self.subscriber.recv_multipart())
                if msg is not None and self.state == PASSIVE:
                    self.from_master(msg)
            if time.monotonic() >= next_beat:
                next_beat = time.monotonic() + HEARTBEAT
                self.statepub.send(b"%d" % self.state)
                if self.kvmap is not None:
                    self.flush_ttl()
                hugz = encode(b"HUGZ", self.sequence, uuid.uuid4().bytes, {}, b"")
                self.publisher.send_multipart(hugz)
        print("DEADLINE %d" % DEADLINE)
        return 2


def serve(args):
    server = Server(args)
    try:
        return server.run()
    except KeyboardInterrupt:
        print_map(server.kvmap or {})
        return 0


class Client:
    def __init__(self, args):
        ctx = zmq.Context.instance()
        self.kvmap = {}
        self.sequence = 0
        self.servers = []
        self.publisher = ctx.socket(zmq.PUB)
        self.publisher.setsockopt(zmq.LINGER, 0)
        for port in (args.primary_port, args.backup_port):
            snap = ctx.socket(zmq.DEALER)
            snap.setsockopt(zmq.LINGER, 0)
            snap.connect("%s:%d" % (args.address, port))
            sub = ctx.socket(zmq.SUB)
            sub.setsockopt(zmq.LINGER, 0)
            sub.setsockopt(zmq.SUBSCRIBE, SUBTREE)
            sub.setsockopt(zmq.SUBSCRIBE, b"HUGZ")
            sub.connect("%s:%d" % (args.address, port + 1))
            self.publisher.connect("%s:%d" % (args.address, port + 2))
            self.servers.append(
                {"name": "%s:%d" % (args.address, port), "snap": snap, "sub": sub, "requests": 0}
            )

    def run(self, args):
        rng = random.Random(args.seed)
        cur = 0
        syncing = False
        active = False
        expiry = 0.0
        sent = 0
        next_update = time.monotonic() + args.interval_ms / 1000
        give_up = time.monotonic() + DEADLINE
        while time.monotonic() < give_up:
            server = self.servers[cur]
            if not syncing and not active:
                log("I: waiting for server at %s..." % server["name"])
                if server["requests"] < 2:
                    server["snap"].send_multipart([b"ICANHAZ?", SUBTREE])
                    server["requests"] += 1
                expiry = time.monotonic() + SERVER_TTL
                syncing = True
            sock = server["snap"] if syncing else server["sub"]
            wake = min(expiry, next_update)
            if sock.poll(max(0, int((wake - time.monotonic()) * 1000)), zmq.POLLIN):
                msg = decode(sock.recv_multipart())
                expiry = time.monotonic() + SERVER_TTL
                if msg is None:
                    pass
                elif syncing:
                    server["requests"] = 0
                    if msg[0] == b"KTHXBAI":
                        self.sequence = msg[1]
                        syncing, active = False, True
                        log("I: received from %s snapshot=%d" % (server["name"], self.sequence))
                    else:
                        store(self.kvmap, msg)
                elif msg[1] > self.sequence:
                    self.sequence = msg[1]
                    store(self.kvmap, msg)
                    action = "update" if msg[4] else "delete"
                    log("I: received from %s %s=%d" % (server["name"], action, self.sequence))
            now = time.monotonic()
            if now >= expiry:
                log("I: server at %s didn't give hugz" % server["name"])
                cur = (cur + 1) % len(self.servers)
                syncing = active = False
            if now >= next_update:
                next_update = now + args.interval_ms / 1000
                if active and (args.updates is None or sent < args.updates):
                    key = SUBTREE + b"%d" % rng.randint(1, 10000)
                    body = b"%d" % rng.randint(1, 1000000)
                    ttl = args.ttl if args.ttl is not None else rng.randint(0, 30)
                    props = {b"ttl": b"%d" % ttl} if ttl else {}
                    msg = [key, 0, uuid.uuid4().bytes, props, body]
                    self.publisher.send_multipart(encode(*msg))
                    store(self.kvmap, msg)
                    sent += 1
                    if sent == args.updates:
                        print("I: sent %d updates" % sent)
        print("DEADLINE %d" % DEADLINE)
        return 2


def client(args):
    cli = Client(args)
    try:
        return cli.run(args)
    except KeyboardInterrupt:
        print_map(cli.kvmap)
        return 0


def main():
    # Ctrl-C (SIGINT) ends each mode, printing its map, even when started
    # with SIGINT ignored (in the background of a shell without job control).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    parser = argparse.ArgumentParser()
    modes = parser.add_subparsers(dest="mode", required=True)
    server = modes.add_parser("server")
    role = server.add_mutually_exclusive_group(required=True)
    role.add_argument("-p", "--primary", action="store_true")
    role.add_argument("-b", "--backup", action="store_true")
    server.add_argument("--port", type=int)
    server.add_argument("--peer", type=int)
    server.add_argument("--state-pub")
    server.add_argument("--state-sub")
    cli = modes.add_parser("client")
    cli.add_argument("--address", default="tcp://localhost")
    cli.add_argument("--primary-port", type=int, default=5556)
    cli.add_argument("--backup-port", type=int, default=5566)
    cli.add_argument("--updates", type=int)
    cli.add_argument("--interval-ms", type=int, default=1000)
    cli.add_argument("--ttl", type=int)
    cli.add_argument("--seed", type=int)
    args = parser.parse_args()
    if args.mode == "server":
        return serve(args)
    return client(args)


if __name__ == "__main__":
    sys.exit(main())
