#!/usr/bin/env python3
"""A small txZMQ application: a ticker and a squaring service.

The Python original of examples/ticker.rs; docs/PORTING.md ("A whole
application, side by side") shows the two files together, and
tests/ticker.rs runs each against the other.

    ticker.py [server|client|both] [--pub ADDR] [--rep ADDR] [--count N]
              [--interval-ms MS]

The server publishes a tick (its number, tag "tick") every interval and
answers requests: "square N" with N*N, "stop" with "bye" (and then stops
ticking). The client subscribes to the ticks, asks the server to square the
first COUNT of them, waits for every answer with a DeferredList, then sends
"stop" and stops its reactor. The server alone stops its reactor on "stop";
with no role, both run in one reactor and the program exits by itself.
"""

import itertools
from optparse import OptionParser

from twisted.internet import defer, reactor, task
from txzmq import (ZmqEndpoint, ZmqFactory, ZmqPubConnection, ZmqREPConnection,
                   ZmqREQConnection, ZmqRequestTimeoutError, ZmqSubConnection)

parser = OptionParser("ticker.py [server|client|both] [options]")
parser.add_option("--pub", default="tcp://127.0.0.1:5570")
parser.add_option("--rep", default="tcp://127.0.0.1:5571")
parser.add_option("--count", type="int", default=5)
parser.add_option("--interval-ms", dest="interval_ms", type="int", default=100)
(options, args) = parser.parse_args()
role = args[0] if args else "both"

zf = ZmqFactory()
zf.registerForShutdown()


class Squares(ZmqREPConnection):
    """Answers "square N" with N*N; "stop" stops the ticker."""

    def __init__(self, factory, endpoint, ticker, publisher):
        self.ticker = ticker
        self.publisher = publisher
        ZmqREPConnection.__init__(self, factory, endpoint)

    def gotMessage(self, messageId, *parts):
        print("server: got %r" % (list(parts),))
        if parts[0] == b"square":
            n = int(parts[1])
            self.reply(messageId, b"%d" % (n * n))
        elif parts[0] == b"stop":
            self.ticker.stop()
            self.publisher.shutdown()
            self.reply(messageId, b"bye")
            if role == "server":
                reactor.stop()
        else:
            self.reply(messageId, b"unknown")


def server():
    publisher = ZmqPubConnection(zf, ZmqEndpoint("bind", options.pub))
    numbers = itertools.count(1)
    ticker = task.LoopingCall(
        lambda: publisher.publish(b"%d" % next(numbers), b"tick"))
    Squares(zf, ZmqEndpoint("bind", options.rep), ticker, publisher)
    ticker.start(options.interval_ms / 1000.0)
    print("server: ticking on %s, squaring on %s" % (options.pub, options.rep))


def client():
    sub = ZmqSubConnection(zf, ZmqEndpoint("connect", options.pub))
    req = ZmqREQConnection(zf, ZmqEndpoint("connect", options.rep))
    req.defaultRequestTimeout = 1.0
    answers = []

    def gotMessage(message, tag):
        if len(answers) == options.count:
            return  # done: waiting for the last answers
        n = int(message)
        print("client: tick %d" % n)
        d = req.sendMsg(b"square", message)
        d.addCallback(lambda reply: int(reply[0]))
        d.addCallback(lambda square: show(n, square))
        d.addErrback(noReply, n)
        answers.append(d)
        if len(answers) == options.count:
            sub.unsubscribe(b"tick")
            everything = defer.DeferredList(answers, consumeErrors=True)
            everything.addCallback(stop)

    def show(n, square):
        print("client: %d squared is %d" % (n, square))
        return True

    def noReply(failure, n):
        failure.trap(ZmqRequestTimeoutError)
        print("client: no answer for tick %d" % n)
        return False

    def stop(results):
        answered = [value for ok, value in results if ok and value]
        print("client: %d of %d answered" % (len(answered), len(results)))
        d = req.sendMsg(b"stop")
        d.addCallback(lambda reply: print("client: server said %r" % reply[0]))
        d.addErrback(lambda failure: print("client: %s" % failure.getErrorMessage()))
        d.addBoth(lambda _: reactor.stop())

    sub.gotMessage = gotMessage
    sub.subscribe(b"tick")
    print("client: ticks from %s, squares from %s" % (options.pub, options.rep))


if role in ("server", "both"):
    server()
if role in ("client", "both"):
    client()
reactor.run()
