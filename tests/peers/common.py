"""What the interop peers share: the line protocol they speak with
tests/interop.rs.

Output, on stdout: one event per line, words separated by one space, the
first word naming the event. A frame is written as its bytes in lowercase
hex, or "-" when it is empty, so every line is plain ASCII and a message's
frames can be compared byte for byte. With `--files DIR`, a frame over 64 KiB
is written instead to a new file in DIR and stands as "=NAME" (the tests run
unoptimised, where hex-coding megabytes is slow); scripts may use the same.

    BOUND <endpoint>        bound to a wildcard address; this is the real one
    READY                   sockets made, endpoints added, subscriptions set
    MSG <frame>...          a message, raw frames (PULL, DEALER, SUB, ROUTER)
    SUB <tag> <message>     txZMQ's ZmqSubConnection.gotMessage(message, tag)
    ROUTER <sender> <frame>...  txZMQ's ZmqRouterConnection.gotMessage
    REQ <id> <frame>...     txZMQ's ZmqREPConnection.gotMessage(id, *parts)
    LATE <id>               a deliberately late reply was sent
    REPLY <label> <frame>...    a request's reply arrived
    TIMEOUT <label>         a request failed with ZmqRequestTimeoutError
    FAILED <label> <text>   a request failed otherwise
    SETTLED <n>             every request of the script has a result
    SENT <n>                every message of the script was handed over
    SEQ <received> <bad>    volume mode: all messages arrived; <bad> were
                            not the one expected next
    ERROR <text>            the peer broke (it exits 1)
    DEADLINE <seconds>      the peer gave up waiting (it exits 2)

Input: `--script FILE` holds the messages to send, one per line, frames
written as above; a line may start with `@key=value` options (the REQ peer
reads `@timeout=SECONDS`), and an empty line is a message of no frames.
Standard input carries commands, one per line: `go` (start publishing),
`send <frame>...` (send one more message), `quit`. End of input means quit.
"""

import itertools
import os
import sys

LARGE = 64 * 1024
_files = {"dir": None, "names": itertools.count()}


def use_files(directory):
    """Large frames go through files in `directory` (None: always hex)."""
    _files["dir"] = directory


def enc(frame):
    """A frame as one word."""
    if not frame:
        return "-"
    if _files["dir"] and len(frame) > LARGE:
        name = "out-%d-%d" % (os.getpid(), next(_files["names"]))
        with open(os.path.join(_files["dir"], name), "wb") as f:
            f.write(frame)
        return "=" + name
    return frame.hex()


def dec(word):
    """The frame a word stands for."""
    if word == "-":
        return b""
    if word.startswith("="):
        with open(os.path.join(_files["dir"] or ".", word[1:]), "rb") as f:
            return f.read()
    return bytes.fromhex(word)


def emit(event, *words):
    """Writes one event line and flushes it."""
    out = sys.stdout
    out.write(event)
    for word in words:
        out.write(" ")
        out.write(word)
    out.write("\n")
    out.flush()


def emit_frames(event, frames, *head):
    """Writes an event: the words in `head` (labels), then the frames."""
    emit(event, *head, *[enc(f) for f in frames])


def parse_message(line):
    """(options, frames) from a script line or a `send` command's words."""
    options = {}
    frames = []
    for word in line.split():
        if word.startswith("@"):
            key, _, value = word[1:].partition("=")
            options[key] = value
        else:
            frames.append(dec(word))
    return options, frames


def read_script(path):
    """The messages of a script file, in order."""
    if not path:
        return []
    with open(path, "r", encoding="ascii") as f:
        return [parse_message(line.rstrip("\n")) for line in f]


def seq_frame(i):
    """Volume mode's i-th message: its number in ASCII."""
    return b"%d" % i


class SeqChecker:
    """Counts volume-mode messages and those that are not the expected next."""

    def __init__(self, expected):
        self.expected = expected
        self.received = 0
        self.bad = 0

    def got(self, frames):
        if frames != [seq_frame(self.received)]:
            self.bad += 1
        self.received += 1
        if self.received == self.expected:
            emit("SEQ", str(self.received), str(self.bad))


def add_common_arguments(parser):
    parser.add_argument("--bind", action="append", default=[], metavar="ADDR",
                        help="bind to ADDR (tcp://127.0.0.1:* picks a port, printed as BOUND)")
    parser.add_argument("--connect", action="append", default=[], metavar="ADDR",
                        help="connect to ADDR")
    parser.add_argument("--identity", metavar="HEX", help="socket identity, hex")
    parser.add_argument("--script", metavar="FILE", help="messages to send")
    parser.add_argument("--subscribe", action="append", default=[], metavar="HEX",
                        help="SUB: subscribe to this prefix (hex; - for everything)")
    parser.add_argument("--volume", type=int, default=0, metavar="N",
                        help="send N numbered messages and expect N back")
    parser.add_argument("--deadline", type=float, default=60.0, metavar="SECONDS",
                        help="give up (exit 2) after this long")
    parser.add_argument("--files", metavar="DIR",
                        help="exchange frames over 64 KiB as files in DIR")
