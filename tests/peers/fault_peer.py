#!/usr/bin/env python3
"""A plain pyzmq peer for the fault tests (tests/faults.rs), which kill it
with SIGKILL mid-stream and start it again.

    fault_peer.py MODE (--bind ADDR | --connect ADDR) --run R [options]

MODE is what the peer does; R numbers the incarnation (the first, the one
started after the first kill...), so the test can tell them apart:

    push    PUSH sending "R i" for i = 0, 1, ... (blocking at the high-water
            mark); with --count N it stops after N, prints SENT N and waits
    pull    PULL printing GOT <message> for every message
    rep     REP answering every request with ["run R", request frames...];
            with --hold PREFIX, the first request whose first frame starts
            with PREFIX is not answered: it prints HOLDING <first frame>
            and stops reading (the requests after it stay queued)
    dealer  DEALER (--identity): sends "hello R" every 100 ms until one comes
            back (a ROUTER may refuse a reused identity until it noticed the
            old connection's death), prints CONNECTED, then sends "R i" with
            at most --window unanswered and counts the echoes; with --count N
            it prints DONE N once N have come back
    router  ROUTER echoing every message to its sender with "R" in front:
            [sender, "R", frames...]

Every peer prints READY once its socket is bound or connected, exits 0 when
its standard input closes, and exits 2 (printing DEADLINE) after --deadline
seconds.
"""

import argparse
import os
import sys
import time

import zmq

KINDS = {"push": zmq.PUSH, "pull": zmq.PULL, "rep": zmq.REP,
         "dealer": zmq.DEALER, "router": zmq.ROUTER}


def emit(*words):
    sys.stdout.write(" ".join(words) + "\n")
    sys.stdout.flush()


class Quit(Exception):
    def __init__(self, code):
        self.code = code


class Peer:
    def __init__(self, args, context):
        self.args = args
        self.run = args.run.encode()
        self.socket = context.socket(KINDS[args.mode])
        self.socket.setsockopt(zmq.LINGER, 0)
        if args.identity:
            self.socket.setsockopt(zmq.IDENTITY, args.identity.encode())
        for address in args.bind:
            self.socket.bind(address)
        for address in args.connect:
            self.socket.connect(address)
        self.poller = zmq.Poller()
        self.poller.register(0, zmq.POLLIN)
        self.deadline = time.monotonic() + args.deadline
        # push / dealer
        self.next = 0
        # rep
        self.holding = False
        # dealer
        self.connected = False
        self.next_hello = 0.0
        self.echoed = 0
        self.done = False
        emit("READY")

    def check_stdin(self, timeout_ms):
        """Waits up to timeout_ms for input; Quit(0) at its end."""
        if time.monotonic() >= self.deadline:
            emit("DEADLINE", str(self.args.deadline))
            raise Quit(2)
        if dict(self.poller.poll(timeout_ms)).get(0):
            if not os.read(0, 1 << 16):
                raise Quit(0)

    def loop(self, step):
        """Polls the socket and stdin, calling step() whenever either wakes."""
        self.poller.register(self.socket, zmq.POLLIN)
        while True:
            self.check_stdin(100)
            step()

    def push(self):
        count = self.args.count
        while count is None or self.next < count:
            try:
                self.socket.send(b"%s %d" % (self.run, self.next), zmq.NOBLOCK)
                self.next += 1
            except zmq.Again:
                self.check_stdin(1)
            if self.next % 1000 == 0:
                self.check_stdin(0)
        emit("SENT", str(count))
        while True:
            self.check_stdin(1000)

    def received(self):
        return self.socket.getsockopt(zmq.EVENTS) & zmq.POLLIN

    def pull(self):
        while self.received():
            emit("GOT", self.socket.recv(zmq.NOBLOCK).decode())

    def rep(self):
        while not self.holding and self.received():
            frames = self.socket.recv_multipart(zmq.NOBLOCK)
            hold = self.args.hold
            if hold is not None and frames and frames[0].startswith(hold.encode()):
                self.holding = True
                emit("HOLDING", frames[0].decode())
                return
            self.socket.send_multipart([b"run " + self.run] + frames)

    def dealer(self):
        while self.received():
            frames = self.socket.recv_multipart(zmq.NOBLOCK)
            if frames[0].startswith(b"hello"):
                if not self.connected:
                    self.connected = True
                    emit("CONNECTED")
            else:
                self.echoed += 1
        now = time.monotonic()
        if not self.connected:
            if now >= self.next_hello:
                self.socket.send(b"hello " + self.run)
                self.next_hello = now + 0.1
            return
        count = self.args.count
        while self.next - self.echoed < self.args.window and (count is None or self.next < count):
            self.socket.send(b"%s %d" % (self.run, self.next))
            self.next += 1
        if count is not None and self.echoed == count and not self.done:
            self.done = True
            emit("DONE", str(count))

    def router(self):
        while self.received():
            frames = self.socket.recv_multipart(zmq.NOBLOCK)
            self.socket.send_multipart([frames[0], self.run] + frames[1:])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=sorted(KINDS))
    parser.add_argument("--bind", action="append", default=[], metavar="ADDR")
    parser.add_argument("--connect", action="append", default=[], metavar="ADDR")
    parser.add_argument("--run", required=True, help="which incarnation this is")
    parser.add_argument("--identity", help="socket identity (ASCII)")
    parser.add_argument("--count", type=int, help="push/dealer: how many messages")
    parser.add_argument("--hold", metavar="PREFIX",
                        help="rep: do not answer the first request starting with PREFIX")
    parser.add_argument("--window", type=int, default=100,
                        help="dealer: at most this many unanswered")
    parser.add_argument("--deadline", type=float, default=60.0, metavar="SECONDS")
    args = parser.parse_args()
    context = zmq.Context()
    code = 0
    try:
        peer = Peer(args, context)
        if args.mode == "push":
            peer.push()
        else:
            step = getattr(peer, args.mode)
            step()
            peer.loop(step)
    except Quit as q:
        code = q.code
    context.destroy(linger=0)
    sys.stdout.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
