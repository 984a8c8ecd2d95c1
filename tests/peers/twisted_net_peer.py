#!/usr/bin/env python3
"""A Twisted TCP peer (no ZeroMQ), driven by net/tests/twisted_interop.rs.

    twisted_net_peer.py MODE [PORT]

MODE is what to run, on 127.0.0.1:

    echo-server     Twisted's echoserv.py protocol (write back what comes)
                    on a port of the kernel's choice; prints PORT
    echo-client     connects to PORT, writes the payload (below) in pieces,
                    waits for all of it to come back, prints ECHOED, then
                    loses the connection
    line-server     a LineReceiver answering each line with "got " + line,
                    and "quit" with "bye" before losing the connection;
                    prints PORT
    line-client     a LineReceiver that sends the lines below, then "quit"
    string-server   an Int32StringReceiver answering each string reversed;
                    prints PORT
    string-client   an Int32StringReceiver that sends the strings below and
                    loses the connection once all came back reversed

Output, one event per line (bytes as lowercase hex, "-" when empty):

    PORT <n>                the port it listens on
    LINE <hex>              a line (or string) received
    ECHOED <n> ok|differs   the whole payload came back, intact or not
    LOST <exception class> <n>  connectionLost(reason), after n bytes
                            (echo) or n lines or strings received
    FAILED <message>        clientConnectionFailed (spaces as "_")
    DEADLINE <seconds>      it gave up (exits 2)

A server handles one connection and exits 0 after it is lost; a client
exits 0 after its connection is lost, 1 if it failed.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import emit, enc  # noqa: E402

from twisted.internet import protocol, reactor  # noqa: E402
from twisted.protocols.basic import Int32StringReceiver, LineReceiver  # noqa: E402

DEADLINE = 60

# Pieces the clients send: small, empty, binary with NULs and CR/LF, and
# a megabyte of a pattern.
PAYLOAD = [
    b"hello",
    b"",
    b"\x00\xff\r\n\x00",
    bytes(i % 251 for i in range(1 << 20)),
    b"end",
]

LINES = [b"alpha", b"", b"with spaces", b"\x00\xff\x7f", b"x" * 10000]
STRINGS = [b"one", b"", b"\x00\r\n\x00", b"y" * 50000]


def lost(reason, received):
    emit("LOST", type(reason.value).__name__, str(received))


def stop():
    if reactor.running:
        reactor.stop()


class Echo(protocol.Protocol):
    received = 0

    def dataReceived(self, data):
        self.received += len(data)
        self.transport.write(data)

    def connectionLost(self, reason):
        lost(reason, self.received)
        reactor.callLater(0, stop)


class EchoClient(protocol.Protocol):
    def connectionMade(self):
        self.expected = b"".join(PAYLOAD)
        self.got = bytearray()
        for piece in PAYLOAD:
            self.transport.write(piece)

    def dataReceived(self, data):
        self.got.extend(data)
        if len(self.got) >= len(self.expected):
            intact = bytes(self.got) == self.expected
            emit("ECHOED", str(len(self.got)), "ok" if intact else "differs")
            self.transport.loseConnection()

    def connectionLost(self, reason):
        lost(reason, len(self.got))
        reactor.callLater(0, stop)


class LineServer(LineReceiver):
    MAX_LENGTH = 100000
    received = 0

    def lineReceived(self, line):
        self.received += 1
        emit("LINE", enc(line))
        if line == b"quit":
            self.sendLine(b"bye")
            self.transport.loseConnection()
        else:
            self.sendLine(b"got " + line)

    def connectionLost(self, reason):
        lost(reason, self.received)
        reactor.callLater(0, stop)


class LineClient(LineReceiver):
    MAX_LENGTH = 100000
    received = 0

    def connectionMade(self):
        for line in LINES + [b"quit"]:
            self.sendLine(line)

    def lineReceived(self, line):
        self.received += 1
        emit("LINE", enc(line))

    def connectionLost(self, reason):
        lost(reason, self.received)
        reactor.callLater(0, stop)


class StringServer(Int32StringReceiver):
    received = 0

    def stringReceived(self, string):
        self.received += 1
        emit("LINE", enc(string))
        self.sendString(string[::-1])

    def connectionLost(self, reason):
        lost(reason, self.received)
        reactor.callLater(0, stop)


class StringClient(Int32StringReceiver):
    received = 0

    def connectionMade(self):
        for string in STRINGS:
            self.sendString(string)

    def stringReceived(self, string):
        self.received += 1
        emit("LINE", enc(string))
        if self.received == len(STRINGS):
            self.transport.loseConnection()

    def connectionLost(self, reason):
        lost(reason, self.received)
        reactor.callLater(0, stop)


SERVERS = {"echo-server": Echo, "line-server": LineServer, "string-server": StringServer}
CLIENTS = {"echo-client": EchoClient, "line-client": LineClient, "string-client": StringClient}


class Client(protocol.ClientFactory):
    def __init__(self, proto):
        self.protocol = proto
        self.failed = False

    def clientConnectionFailed(self, connector, reason):
        emit("FAILED", reason.getErrorMessage().replace(" ", "_"))
        self.failed = True
        stop()


def deadline():
    emit("DEADLINE", str(DEADLINE))
    os._exit(2)


def main():
    mode = sys.argv[1]
    reactor.callLater(DEADLINE, deadline)
    client = None
    if mode in SERVERS:
        factory = protocol.ServerFactory()
        factory.protocol = SERVERS[mode]
        port = reactor.listenTCP(0, factory, interface="127.0.0.1")
        emit("PORT", str(port.getHost().port))
    elif mode in CLIENTS:
        client = Client(CLIENTS[mode])
        reactor.connectTCP("127.0.0.1", int(sys.argv[2]), client)
    else:
        sys.exit("unknown mode " + mode)
    reactor.run()
    sys.exit(1 if client is not None and client.failed else 0)


if __name__ == "__main__":
    main()
