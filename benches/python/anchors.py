"""Python anchors for docs/PERFORMANCE.md: workload 1a (PUSH -> PULL, 1 B
messages over tcp loopback, receiver timed from its first message to its
last) with the receiver in txZMQ on Twisted and with pyzmq's blocking API.
The sender is a plain pyzmq PUSH in a thread in both cases.

    .venv-interop/bin/python benches/python/anchors.py [--count N]

Needs pyzmq, twisted and txzmq (scripts/interop-env installs them). Prints
one line per measurement:  ANCHOR <name> value=<msg/s>
"""

import argparse
import threading
import time

import zmq


def sender(context, endpoint, count, ready):
    push = context.socket(zmq.PUSH)
    push.connect(endpoint)
    ready.wait()
    for _ in range(count):
        push.send(b"x")
    # Keep the socket open until the receiver is done (libzmq may drop
    # in-flight messages when a sender closes right after its last send).
    return push


def pyzmq_blocking(count):
    context = zmq.Context()
    pull = context.socket(zmq.PULL)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    ready = threading.Event()
    holder = {}
    thread = threading.Thread(
        target=lambda: holder.update(push=sender(context, f"tcp://127.0.0.1:{port}", count, ready))
    )
    thread.start()
    ready.set()
    pull.recv()
    started = time.perf_counter()
    for _ in range(count - 1):
        pull.recv()
    elapsed = time.perf_counter() - started
    thread.join()
    holder["push"].close()
    pull.close()
    context.term()
    return (count - 1) / elapsed


def txzmq_on_twisted(count):
    from twisted.internet import reactor
    from txzmq import ZmqEndpoint, ZmqFactory, ZmqPullConnection

    factory = ZmqFactory()
    pull = ZmqPullConnection(factory, ZmqEndpoint("bind", "tcp://127.0.0.1:0"))
    endpoint = pull.socket.getsockopt(zmq.LAST_ENDPOINT).decode()
    state = {"seen": 0, "first": None, "elapsed": None}

    def on_pull(message):
        state["seen"] += 1
        if state["seen"] == 1:
            state["first"] = time.perf_counter()
        if state["seen"] == count:
            state["elapsed"] = time.perf_counter() - state["first"]
            reactor.stop()

    pull.onPull = on_pull
    ready = threading.Event()
    holder = {}
    thread = threading.Thread(
        target=lambda: holder.update(push=sender(factory.context, endpoint, count, ready))
    )
    thread.start()
    reactor.callWhenRunning(ready.set)
    reactor.run()
    thread.join()
    holder["push"].close()
    factory.shutdown()
    return (count - 1) / state["elapsed"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=200_000)
    args = parser.parse_args()
    print(f"ANCHOR pyzmq_blocking_tcp_1B_recv value={pyzmq_blocking(args.count):.1f}")
    print(f"ANCHOR txzmq_twisted_tcp_1B_recv value={txzmq_on_twisted(args.count):.1f}")


if __name__ == "__main__":
    main()
