#!/usr/bin/env python3
"""Peers in plain pyzmq for tests/examples_pyzmq_loops.rs: the other process
of the ports of pyzmq's eventloop echo servers and of gevent/simple.

    pyzmq_loops.py echo-client ENDPOINT COUNT
    pyzmq_loops.py pickle-pull ENDPOINT
    pyzmq_loops.py pickle-push ENDPOINT

echo-client  connects a DEALER with the identity b'py' and, COUNT times,
             sends [b'hello N'] and waits (5 s at most) for the same frames
             back; prints "echoed [b'hello N']" for each, "ERROR ..." and
             exits 1 on a wrong or missing echo.
pickle-pull  connects a PULL and prints "got REPR" for each object read with
             recv_pyobj, until 'quit'.
pickle-push  binds a PUSH, waits for "go" on standard input, then sends one
             frame that is not a pickle, the original's five objects with
             send_pyobj (pickle's default protocol), and waits for its
             standard input to close.
"""

import sys

import zmq

OBJECTS = [
    ("this", "is", "a", "python", "tuple"),
    {"hi": 1234},
    ({"this": ["is a more complicated object", ":)"]}, 42, 42, 42),
    "foobar",
    "quit",
]


def echo_client(endpoint, count):
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.IDENTITY, b"py")
    sock.linger = 0
    sock.connect(endpoint)
    for n in range(count):
        frames = [b"hello %d" % n]
        sock.send_multipart(frames)
        if not sock.poll(5000):
            print("ERROR no echo for %r" % frames, flush=True)
            sys.exit(1)
        echo = sock.recv_multipart()
        if echo != frames:
            print("ERROR echo %r for %r" % (echo, frames), flush=True)
            sys.exit(1)
        print("echoed %r" % echo, flush=True)


def pickle_pull(endpoint):
    sock = zmq.Context.instance().socket(zmq.PULL)
    sock.connect(endpoint)
    while True:
        obj = sock.recv_pyobj()
        print("got %r" % (obj,), flush=True)
        if obj == "quit":
            return


def pickle_push(endpoint):
    sock = zmq.Context.instance().socket(zmq.PUSH)
    sock.linger = 1000
    sock.bind(endpoint)
    print("bound", flush=True)
    if sys.stdin.readline().strip() != "go":
        return
    sock.send(b"not a pickle")
    for obj in OBJECTS:
        sock.send_pyobj(obj)
    sys.stdin.read()


def main():
    mode, endpoint = sys.argv[1], sys.argv[2]
    if mode == "echo-client":
        echo_client(endpoint, int(sys.argv[3]))
    elif mode == "pickle-pull":
        pickle_pull(endpoint)
    elif mode == "pickle-push":
        pickle_push(endpoint)
    else:
        sys.exit("unknown mode %r" % mode)


if __name__ == "__main__":
    main()
