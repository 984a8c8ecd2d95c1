"""A Binary Star server and client in Python (plain pyzmq), speaking the
zguide's Binary Star protocol, for tests/examples_bstar.rs.

    bstar.py server (-p | -b) [--frontend EP] [--state-pub EP] [--state-sub EP]
    bstar.py client [--primary EP] [--backup EP] [--interval-ms MS]
                    [--timeout-ms MS] [--settle-ms MS] [--requests N]

The wire protocol: each server publishes its state as one frame, the
decimal digit of 1 primary, 2 backup, 3 active, 4 passive, every second;
its ROUTER echoes each request it accepts, whole. A client sends the
decimal sequence number through a REQ socket and expects it back.

The printed lines are the zguide's bstarsrv/bstarcli lines, as the Rust
examples print them, so a test reads either side the same way. Each mode
gives up after DEADLINE seconds (it prints "DEADLINE" and exits 2).
"""

import argparse
import sys
import time

import zmq

DEADLINE = 90.0
HEARTBEAT = 1.0  # seconds

PRIMARY, BACKUP, ACTIVE, PASSIVE = 1, 2, 3, 4

# (state, peer's state) -> (line to print, next state)
TRANSITIONS = {
    (PRIMARY, BACKUP): ("I: connected to backup (slave), ready as master", ACTIVE),
    (PRIMARY, ACTIVE): ("I: connected to backup (master), ready as slave", PASSIVE),
    (BACKUP, ACTIVE): ("I: connected to primary (master), ready as slave", PASSIVE),
    (PASSIVE, PRIMARY): ("I: primary (slave) is restarting, ready as master", ACTIVE),
    (PASSIVE, BACKUP): ("I: backup (slave) is restarting, ready as master", ACTIVE),
}
FATAL = {
    (ACTIVE, ACTIVE): "E: fatal error - dual masters, aborting",
    (PASSIVE, PASSIVE): "E: fatal error - dual slaves, aborting",
}


def serve(args):
    if args.primary:
        print("I: Primary master, waiting for backup (slave)")
        defaults = ("tcp://*:5001", "tcp://*:5003", "tcp://localhost:5004")
        state = PRIMARY
    else:
        print("I: Backup slave, waiting for primary (master)")
        defaults = ("tcp://*:5002", "tcp://*:5004", "tcp://localhost:5003")
        state = BACKUP
    frontend_ep = args.frontend or defaults[0]
    pub_ep = args.state_pub or defaults[1]
    sub_ep = args.state_sub or defaults[2]

    ctx = zmq.Context.instance()
    statepub = ctx.socket(zmq.PUB)
    statepub.bind(pub_ep)
    statesub = ctx.socket(zmq.SUB)
    statesub.setsockopt(zmq.SUBSCRIBE, b"")
    statesub.connect(sub_ep)
    frontend = ctx.socket(zmq.ROUTER)
    frontend.bind(frontend_ep)

    poller = zmq.Poller()
    poller.register(frontend, zmq.POLLIN)
    poller.register(statesub, zmq.POLLIN)

    peer_expiry = None
    give_up = time.monotonic() + DEADLINE
    next_beat = time.monotonic() + HEARTBEAT
    while time.monotonic() < give_up:
        wait = max(0.0, next_beat - time.monotonic())
        ready = dict(poller.poll(int(wait * 1000)))
        now = time.monotonic()
        if frontend in ready:
            request = frontend.recv_multipart()
            if state == BACKUP:
                pass  # waiting for the primary: clients are ignored
            elif state == PASSIVE:
                if peer_expiry is not None and now > peer_expiry:
                    state = ACTIVE  # the peer is silent: take over
                    frontend.send_multipart(request)
            else:
                frontend.send_multipart(request)
        if statesub in ready:
            frame = statesub.recv()
            try:
                peer = int(frame)
            except ValueError:
                peer = None
            if peer is not None:
                if (state, peer) in FATAL:
                    print(FATAL[(state, peer)])
                    return 1
                if (state, peer) in TRANSITIONS:
                    line, state = TRANSITIONS[(state, peer)]
                    print(line)
                peer_expiry = now + 2 * HEARTBEAT
        if time.monotonic() >= next_beat:
            statepub.send(b"%d" % state)
            next_beat = time.monotonic() + HEARTBEAT
    print("DEADLINE %d" % DEADLINE)
    return 2


def client(args):
    servers = [args.primary, args.backup]
    current = 0
    ctx = zmq.Context.instance()

    def connect():
        sock = ctx.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(servers[current])
        return sock

    sock = connect()
    give_up = time.monotonic() + DEADLINE
    sequence = 0
    while args.requests is None or sequence < args.requests:
        if time.monotonic() > give_up:
            print("DEADLINE %d" % DEADLINE)
            return 2
        sock.send(b"%d" % sequence)
        while True:
            if sock.poll(args.timeout_ms, zmq.POLLIN):
                reply = sock.recv()
                text = reply.decode("utf-8", "replace")
                if text.strip().isdigit() and int(text) == sequence:
                    print("I: server replied OK (%s)" % text)
                    sequence += 1
                    time.sleep(args.interval_ms / 1000)
                    break
                print("E: malformed reply from server: %s" % text)
            else:
                print("W: no response from server, failing over")
                sock.close()
                time.sleep(args.settle_ms / 1000)
                current = (current + 1) % 2
                print("I: connecting to server at %s.." % servers[current])
                sock = connect()
                sock.send(b"%d" % sequence)
            if time.monotonic() > give_up:
                print("DEADLINE %d" % DEADLINE)
                return 2
    sock.close()
    return 0


def main():
    parser = argparse.ArgumentParser()
    modes = parser.add_subparsers(dest="mode", required=True)
    server = modes.add_parser("server")
    role = server.add_mutually_exclusive_group(required=True)
    role.add_argument("-p", "--primary", action="store_true")
    role.add_argument("-b", "--backup", action="store_true")
    server.add_argument("--frontend")
    server.add_argument("--state-pub")
    server.add_argument("--state-sub")
    cli = modes.add_parser("client")
    cli.add_argument("--primary", default="tcp://localhost:5001")
    cli.add_argument("--backup", default="tcp://localhost:5002")
    cli.add_argument("--timeout-ms", type=int, default=1000)
    cli.add_argument("--settle-ms", type=int, default=2000)
    cli.add_argument("--interval-ms", type=int, default=1000)
    cli.add_argument("--requests", type=int)
    args = parser.parse_args()
    if args.mode == "server":
        return serve(args)
    return client(args)


if __name__ == "__main__":
    sys.exit(main())
