"""pyzmq's heartbeat roles in plain pyzmq, for tests/examples_pyzmq_basic.rs:
the other side of the heartbeat ports, to show they interoperate.

    heartbeat.py heart [--ping EP] [--pong EP] [--seconds S]
    heartbeat.py heartbeater [--ping EP] [--pong EP] [--period-ms MS] [--beats N]
    heartbeat.py pong [--endpoint EP] [--seconds S]
    heartbeat.py ping [--endpoint EP] [--pings N]

The wire protocol: the heartbeater publishes its lifetime in seconds as the
text of a Python float; each heart sends it back, unchanged, from a DEALER
connected to the heartbeater's ROUTER, which sees the heart's identity
first. The pong side echoes each request of a REQ on a REP.

A heart or pong runs its forwarding on a thread (as the examples do) while
the main thread waits out --seconds, then prints "DONE". The heartbeater
prints the lines heartbeat_heartbeater prints (Python 3 reprs); the pinger
prints "ping N: T ms" and "ERROR ..." on a wrong reply (exit 1). Each mode
gives up after DEADLINE seconds (it prints "DEADLINE" and exits 2).
"""

import argparse
import os
import sys
import threading
import time

import zmq

DEADLINE = 60.0


def forward(ctx, front, back):
    """Passes messages from front to back until the context ends."""
    try:
        zmq.proxy(front, back)
    except zmq.ContextTerminated:
        pass
    except zmq.ZMQError:
        pass


def heart(args):
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(args.ping)
    dealer = ctx.socket(zmq.DEALER)
    dealer.connect(args.pong)
    threading.Thread(target=forward, args=(ctx, sub, dealer), daemon=True).start()
    print("READY", flush=True)
    time.sleep(min(args.seconds, DEADLINE))
    print("DONE", flush=True)
    # Leave without closing: the forwarding thread holds the sockets.
    os._exit(0)


def pong(args):
    ctx = zmq.Context()
    rep = ctx.socket(zmq.REP)
    rep.setsockopt(zmq.IDENTITY, b"whoda")
    rep.bind(args.endpoint)
    threading.Thread(target=forward, args=(ctx, rep, rep), daemon=True).start()
    print("READY", flush=True)
    time.sleep(min(args.seconds, DEADLINE))
    print("DONE", flush=True)
    os._exit(0)


def set_repr(hearts):
    if not hearts:
        return "set()"
    return "{" + ", ".join(repr(h) for h in sorted(hearts)) + "}"


def heartbeater(args):
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.bind(args.ping)
    router = ctx.socket(zmq.ROUTER)
    router.bind(args.pong)
    poller = zmq.Poller()
    poller.register(router, zmq.POLLIN)
    hearts, responses = set(), set()
    lifetime = 0.0
    tic = time.time()
    period = args.period_ms / 1000.0
    start = time.time()
    next_beat = tic + period
    beats = 0
    while beats < args.beats:
        if time.time() - start > DEADLINE:
            print("DEADLINE", flush=True)
            sys.exit(2)
        timeout = max(0.0, next_beat - time.time())
        if dict(poller.poll(timeout * 1000)).get(router):
            frames = router.recv_multipart()
            if len(frames) == 2 and frames[1] == str(lifetime).encode():
                responses.add(frames[0])
            else:
                print("got bad heartbeat (possibly old?): %r" % frames[1:], flush=True)
            continue
        next_beat += period
        toc = time.time()
        lifetime += toc - tic
        tic = toc
        print(lifetime)
        good = hearts & responses
        failures = hearts - good
        for h in sorted(responses - good):
            print("yay, got new heart %r!" % h)
            hearts.add(h)
        for h in sorted(failures):
            print("Heart %r failed :(" % h)
            hearts.discard(h)
        responses = set()
        print("%i beating hearts: %s" % (len(hearts), set_repr(hearts)), flush=True)
        pub.send(str(lifetime).encode())
        beats += 1
    print("DONE", flush=True)


def ping(args):
    ctx = zmq.Context()
    req = ctx.socket(zmq.REQ)
    req.setsockopt(zmq.RCVTIMEO, int(DEADLINE * 1000))
    req.connect(args.endpoint)
    for n in range(1, args.pings + 1):
        msg = "ping %i" % n
        tic = time.time()
        req.send_string(msg)
        try:
            resp = req.recv_string()
        except zmq.Again:
            print("DEADLINE", flush=True)
            sys.exit(2)
        print("%s: %.2f ms" % (msg, 1000 * (time.time() - tic)), flush=True)
        if resp != msg:
            print("ERROR reply %r to %r" % (resp, msg), flush=True)
            sys.exit(1)
    print("DONE", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["heart", "heartbeater", "pong", "ping"])
    parser.add_argument("--ping", default="tcp://127.0.0.1:5555")
    parser.add_argument("--pong", default="tcp://127.0.0.1:5556")
    parser.add_argument("--endpoint", default="tcp://127.0.0.1:10111")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--period-ms", type=int, default=1000)
    parser.add_argument("--beats", type=int, default=10)
    parser.add_argument("--pings", type=int, default=8)
    args = parser.parse_args()
    {"heart": heart, "heartbeater": heartbeater, "pong": pong, "ping": ping}[args.mode](args)


if __name__ == "__main__":
    main()
