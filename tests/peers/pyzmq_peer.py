#!/usr/bin/env python3
"""A plain pyzmq peer (no Twisted), driven by tests/interop.rs.

    pyzmq_peer.py MODE [--bind ADDR | --connect ADDR]... [options]

MODE is what the peer does:

    pub     PUB sending the two-frame form [tag, message]: [sync, probe] every
            20 ms until the command `go`, then each script line
            `<tag> <message>`, then [sync, end]
    sub     SUB with a --subscribe prefix per option; prints MSG (raw frames)
    req     REQ (identity from --identity): sends each script message and
            waits for its reply (lockstep), prints REPLY <index>, then SETTLED
    router  ROUTER answering in txZMQ's REQ envelope: prints MSG (the whole
            message, routing id first) for each of --expect requests
            [routing id, request id, "", parts...], then answers them all in
            reverse order of arrival with [routing id, request id, "", parts
            reversed...]
    proxy   a broker hop: a ROUTER on the --bind endpoints, a DEALER on the
            --connect ones, each message passed on whole (a ROUTER adds the
            sender's routing id going in and strips it coming back); prints
            MSG for each message that comes in on the ROUTER

The line protocol is described in common.py. The peer exits 0 on `quit` or
when its standard input closes, 1 on an error, 2 at its deadline.
"""

import argparse
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
from common import emit, emit_frames  # noqa: E402

import zmq  # noqa: E402

KINDS = {"pub": zmq.PUB, "sub": zmq.SUB, "req": zmq.REQ, "router": zmq.ROUTER,
         "proxy": zmq.ROUTER}
PROBE_INTERVAL = 0.02


class Quit(Exception):
    def __init__(self, code):
        self.code = code


class Peer:
    def __init__(self, args, context):
        self.args = args
        self.mode = args.mode
        self.script = common.read_script(args.script)
        self.probing = self.mode == "pub"
        self.next_probe = time.monotonic()
        self.next_request = 0
        self.requests = []  # router: what arrived, in order

        self.socket = context.socket(KINDS[self.mode])
        self.socket.setsockopt(zmq.LINGER, 1000)
        if args.identity:
            self.socket.setsockopt(zmq.IDENTITY, common.dec(args.identity))
        for tag in args.subscribe:
            self.socket.setsockopt(zmq.SUBSCRIBE, common.dec(tag))
        for address in args.bind:
            self.socket.bind(address)
            if address.endswith("*"):
                emit("BOUND", self.socket.getsockopt(zmq.LAST_ENDPOINT).decode())
        self.backend = None
        if self.mode == "proxy":
            self.backend = context.socket(zmq.DEALER)
            self.backend.setsockopt(zmq.LINGER, 1000)
            for address in args.connect:
                self.backend.connect(address)
        else:
            for address in args.connect:
                self.socket.connect(address)
        emit("READY")
        if self.mode == "req":
            self.send_next_request()

    def send_next_request(self):
        if self.next_request == len(self.script):
            emit("SETTLED", str(len(self.script)))
            return
        _, frames = self.script[self.next_request]
        self.socket.send_multipart(frames)

    def publish_script(self):
        if not self.probing:
            return
        self.probing = False
        for _, frames in self.script:
            self.socket.send_multipart(frames)
        self.socket.send_multipart([b"sync", b"end"])
        emit("SENT", str(len(self.script)))

    def received(self, frames):
        if self.mode == "sub":
            emit_frames("MSG", frames)
        elif self.mode == "req":
            emit_frames("REPLY", frames, str(self.next_request))
            self.next_request += 1
            self.send_next_request()
        elif self.mode == "proxy":
            emit_frames("MSG", frames)
            self.backend.send_multipart(frames)
        elif self.mode == "router":
            emit_frames("MSG", frames)
            self.requests.append(frames)
            if len(self.requests) == self.args.expect:
                for request in reversed(self.requests):
                    delimiter = request.index(b"")
                    envelope, parts = request[: delimiter + 1], request[delimiter + 1:]
                    self.socket.send_multipart(envelope + list(reversed(parts)))
                emit("SENT", str(len(self.requests)))
        else:
            raise ValueError("a %s socket received %r" % (self.mode, frames))

    def command(self, line):
        word, _, rest = line.partition(" ")
        if word == "go":
            self.publish_script()
        elif word == "send":
            self.socket.send_multipart(common.parse_message(rest)[1])
        elif word == "quit":
            raise Quit(0)
        else:
            raise ValueError("unknown command %r" % line)

    def run(self, deadline):
        poller = zmq.Poller()
        poller.register(self.socket, zmq.POLLIN)
        if self.backend is not None:
            poller.register(self.backend, zmq.POLLIN)
        poller.register(0, zmq.POLLIN)
        pending = b""
        while True:
            now = time.monotonic()
            if now >= deadline:
                emit("DEADLINE", str(self.args.deadline))
                raise Quit(2)
            wake = deadline
            if self.probing:
                if now >= self.next_probe:
                    self.socket.send_multipart([b"sync", b"probe"])
                    self.next_probe = now + PROBE_INTERVAL
                wake = min(wake, self.next_probe)
            ready = dict(poller.poll(max(0, int((wake - now) * 1000)) + 1))
            if ready.get(self.socket):
                # Not until EAGAIN: a REQ socket that has its reply refuses
                # to receive again (EFSM) until it sends.
                while self.socket.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                    self.received(self.socket.recv_multipart(zmq.NOBLOCK))
            if self.backend is not None and ready.get(self.backend):
                while self.backend.getsockopt(zmq.EVENTS) & zmq.POLLIN:
                    self.socket.send_multipart(self.backend.recv_multipart(zmq.NOBLOCK))
            if ready.get(0):
                data = os.read(0, 1 << 20)
                if not data:
                    raise Quit(0)
                pending += data
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    self.command(line.decode("ascii"))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=sorted(KINDS))
    common.add_common_arguments(parser)
    parser.add_argument("--expect", type=int, default=0, metavar="N",
                        help="router: answer once N requests have arrived")
    args = parser.parse_args()
    common.use_files(args.files)
    deadline = time.monotonic() + args.deadline
    context = zmq.Context()
    code = 0
    try:
        Peer(args, context).run(deadline)
    except Quit as q:
        code = q.code
    except Exception as e:  # report anything, then exit 1
        last = traceback.format_exc().strip().splitlines()[-3:]
        emit("ERROR", "%r at %s" % (e, " | ".join(last)))
        code = 1
    # Messages still queued get a second to leave, then everything closes.
    context.destroy(linger=1000)
    sys.stdout.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
