#!/usr/bin/env python3
"""A txZMQ peer on Twisted, driven by tests/interop.rs.

    txzmq_peer.py MODE [--bind ADDR | --connect ADDR]... [options]

MODE is the txZMQ connection to use:

    pub     ZmqPubConnection: publishes ("probe", tag "sync") every 20 ms until
            the command `go`, then publish(message, tag) for each script line
            `<tag> <message>`, then ("end", tag "sync")
    sub     ZmqSubConnection: subscribe() to each --subscribe, prints SUB
    push    ZmqPushConnection: push() each script message (bytes for one
            frame, a list for several)
    pull    ZmqPullConnection: prints MSG for each onPull
    req     ZmqREQConnection: sendMsg(*frames) every script message at once
            (concurrently), prints REPLY/TIMEOUT/FAILED per line index, then
            SETTLED; `send` commands are requests labelled x0, x1...
    rep     ZmqREPConnection: prints REQ, replies with the frames reversed;
            a request whose first frame is "late" is answered --late-after
            seconds later (and LATE printed)
    router  ZmqRouterConnection: prints ROUTER, answers the sender with the
            frames reversed (sendMsg for one frame, sendMultipart for more)
    dealer  ZmqDealerConnection: sends each script message (sendMsg for one
            frame, sendMultipart for more), prints MSG; with --volume N it
            sends N numbered messages and checks the N it receives

The line protocol is described in common.py. The peer exits 0 on `quit` or
when its standard input closes, 1 on an error, 2 at its deadline.
"""

import argparse
import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
from common import emit, emit_frames, enc  # noqa: E402

import zmq  # noqa: E402
from twisted.internet import reactor, stdio, task  # noqa: E402
from twisted.protocols.basic import LineOnlyReceiver  # noqa: E402
from txzmq import (  # noqa: E402
    ZmqDealerConnection,
    ZmqEndpoint,
    ZmqEndpointType,
    ZmqFactory,
    ZmqPubConnection,
    ZmqPullConnection,
    ZmqPushConnection,
    ZmqREPConnection,
    ZmqREQConnection,
    ZmqRequestTimeoutError,
    ZmqRouterConnection,
    ZmqSubConnection,
)

CLASSES = {
    "pub": ZmqPubConnection,
    "sub": ZmqSubConnection,
    "push": ZmqPushConnection,
    "pull": ZmqPullConnection,
    "req": ZmqREQConnection,
    "rep": ZmqREPConnection,
    "router": ZmqRouterConnection,
    "dealer": ZmqDealerConnection,
}

exit_code = 0


def finish(code):
    """Stops the reactor; the process exits with `code` (the first one set)."""
    global exit_code
    if code and not exit_code:
        exit_code = code
    if reactor.running:
        reactor.stop()


def guarded(f):
    """Runs a callback; an exception is reported and ends the peer with 1.

    Without this, an exception in a txZMQ callback would only be logged by
    Twisted, which then drops the connection's reader: the peer would hang.
    """

    def call(*args, **kwargs):
        try:
            return f(*args, **kwargs)
        except Exception as e:  # report anything, then stop
            last = traceback.format_exc().strip().splitlines()[-3:]
            emit("ERROR", "%s: %r at %s" % (f.__name__, e, " | ".join(last)))
            finish(1)

    return call


class Peer:
    def __init__(self, args):
        self.args = args
        self.mode = args.mode
        self.script = common.read_script(args.script)
        self.extra = 0
        self.settled = 0
        self.probing = None
        self.seq = common.SeqChecker(args.volume) if args.volume else None

        self.factory = ZmqFactory()
        self.factory.registerForShutdown()
        kwargs = {}
        if args.identity:
            kwargs["identity"] = common.dec(args.identity)
        self.conn = CLASSES[self.mode](self.factory, **kwargs)
        for address in args.bind:
            self.conn.addEndpoints([ZmqEndpoint(ZmqEndpointType.bind, address)])
            if address.endswith("*"):
                emit("BOUND", self.conn.socket.get(zmq.LAST_ENDPOINT).decode())
        for address in args.connect:
            self.conn.addEndpoints([ZmqEndpoint(ZmqEndpointType.connect, address)])

        handler = {
            "sub": self.got_sub,
            "pull": self.got_pull,
            "rep": self.got_request,
            "router": self.got_router,
            "dealer": self.got_dealer,
        }.get(self.mode)
        if self.mode == "pull":
            self.conn.onPull = guarded(handler)
        elif handler is not None:
            self.conn.gotMessage = guarded(handler)
        for tag in args.subscribe:
            self.conn.subscribe(common.dec(tag))
        emit("READY")

    def start(self):
        if self.mode == "pub":
            self.probing = task.LoopingCall(guarded(self.probe))
            self.probing.start(0.02)
        elif self.mode == "push":
            for _, frames in self.script:
                self.conn.push(frames[0] if len(frames) == 1 else frames)
            emit("SENT", str(len(self.script)))
        elif self.mode == "dealer":
            for _, frames in self.script:
                self.send_dealer(frames)
            if self.args.volume:
                self.send_volume(0)
            else:
                emit("SENT", str(len(self.script)))
        elif self.mode == "req":
            for i, (options, frames) in enumerate(self.script):
                self.request(str(i), options, frames)

    # -- sending

    def probe(self):
        self.conn.publish(b"probe", b"sync")

    def publish_script(self):
        if self.probing is None or not self.probing.running:
            return
        self.probing.stop()
        for _, (tag, message) in self.script:
            self.conn.publish(message, tag)
        self.conn.publish(b"end", b"sync")
        emit("SENT", str(len(self.script)))

    def send_dealer(self, frames):
        if len(frames) == 1:
            self.conn.sendMsg(frames[0])
        else:
            self.conn.sendMultipart(frames)

    def send_volume(self, start):
        # In slices, so that receiving gets turns while we send.
        end = min(start + 2000, self.args.volume)
        for i in range(start, end):
            self.conn.sendMsg(common.seq_frame(i))
        if end < self.args.volume:
            reactor.callLater(0, guarded(self.send_volume), end)
        else:
            emit("SENT", str(self.args.volume))

    def request(self, label, options, frames):
        kwargs = {}
        if "timeout" in options:
            kwargs["timeout"] = float(options["timeout"])
        d = self.conn.sendMsg(*frames, **kwargs)
        d.addCallbacks(guarded(self.replied), guarded(self.request_failed),
                       callbackArgs=(label,), errbackArgs=(label,))

    def replied(self, reply, label):
        emit_frames("REPLY", reply, label)
        self.settle(label)

    def request_failed(self, failure, label):
        if failure.check(ZmqRequestTimeoutError):
            emit("TIMEOUT", label)
        else:
            emit("FAILED", label, repr(failure.value))
        self.settle(label)

    def settle(self, label):
        if label.startswith("x"):
            return
        self.settled += 1
        if self.settled == len(self.script):
            emit("SETTLED", str(self.settled))

    # -- receiving

    def got_sub(self, message, tag):
        emit("SUB", enc(tag), enc(message))

    def got_pull(self, message):
        emit_frames("MSG", message)

    def got_request(self, message_id, *parts):
        emit_frames("REQ", parts, enc(message_id))
        answer = list(reversed(parts))
        if parts and parts[0] == b"late":
            def late():
                self.conn.reply(message_id, *answer)
                emit("LATE", enc(message_id))

            reactor.callLater(self.args.late_after, guarded(late))
        else:
            self.conn.reply(message_id, *answer)

    def got_router(self, sender, *parts):
        emit_frames("ROUTER", parts, enc(sender))
        if len(parts) == 1:
            self.conn.sendMsg(sender, parts[0])
        else:
            self.conn.sendMultipart(sender, list(reversed(parts)))

    def got_dealer(self, *parts):
        if self.seq is not None:
            self.seq.got(list(parts))
        else:
            emit_frames("MSG", parts)

    # -- commands

    def command(self, line):
        word, _, rest = line.partition(" ")
        if word == "go":
            self.publish_script()
        elif word == "send":
            options, frames = common.parse_message(rest)
            if self.mode == "req":
                self.request("x%d" % self.extra, options, frames)
                self.extra += 1
            elif self.mode == "dealer":
                self.send_dealer(frames)
            else:
                self.conn.send(frames)
        elif word == "quit":
            finish(0)
        else:
            raise ValueError("unknown command %r" % line)


class Commands(LineOnlyReceiver):
    delimiter = b"\n"
    MAX_LENGTH = 1 << 28

    def __init__(self, peer):
        self.peer = peer

    def lineReceived(self, line):
        guarded(self.peer.command)(line.decode("ascii"))

    def connectionLost(self, reason):
        finish(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", choices=sorted(CLASSES))
    common.add_common_arguments(parser)
    parser.add_argument("--late-after", type=float, default=1.0, metavar="SECONDS",
                        help="rep: how late to answer requests whose first frame is 'late'")
    args = parser.parse_args()
    common.use_files(args.files)

    def expire():
        emit("DEADLINE", str(args.deadline))
        finish(2)

    def setup():
        peer = Peer(args)
        # Commands come on fd 0. StandardIO also makes its output fd
        # non-blocking, so give it /dev/null: our events go to fd 1 with
        # ordinary blocking writes, however long the line.
        stdio.StandardIO(Commands(peer), stdout=os.open(os.devnull, os.O_WRONLY))
        peer.start()

    reactor.callLater(args.deadline, expire)
    reactor.callWhenRunning(guarded(setup))
    reactor.run()
    sys.stdout.flush()
    os._exit(exit_code)


if __name__ == "__main__":
    main()
