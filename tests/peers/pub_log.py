"""Both ends of pyzmq's log publishing, for connections/tests/log_handler.rs
and tests/examples_serial_log.rs.

    pub_log.py publish ENDPOINT [--root-topic T] [--interval-ms MS]
    pub_log.py subscribe ENDPOINT COUNT

publish: a PUB socket connected to ENDPOINT, under pyzmq's own PUBHandler
(zmq.log.handlers), on a logger at DEBUG. It logs, in turn, at DEBUG, INFO,
WARNING (with the subtopic "net.tcp", pyzmq's "topic::message" rule), ERROR
and CRITICAL, the text "record N" (N counting up from 0), one record every
MS milliseconds, until it is killed or DEADLINE passes.

subscribe: a SUB socket bound at ENDPOINT, subscribed to everything; prints
"READY", then each of the first COUNT messages as one line of JSON, the list
of its frames decoded as UTF-8, and exits 0.

Each mode gives up after DEADLINE seconds (it prints "DEADLINE" and exits 2).
"""

import argparse
import json
import logging
import sys
import time

import zmq
from zmq.log.handlers import PUBHandler

DEADLINE = 60.0


def publish(args):
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.connect(args.endpoint)
    handler = PUBHandler(pub)
    handler.root_topic = args.root_topic
    logger = logging.getLogger("pub_log")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    logger.addHandler(handler)
    print("PUBLISHING", flush=True)
    end = time.monotonic() + DEADLINE
    n = 0
    while time.monotonic() < end:
        kind = n % 5
        if kind == 0:
            logger.debug("record %d", n)
        elif kind == 1:
            logger.info("record %d", n)
        elif kind == 2:
            logger.warning("net.tcp::record %d", n)
        elif kind == 3:
            logger.error("record %d", n)
        else:
            logger.critical("record %d", n)
        n += 1
        time.sleep(args.interval_ms / 1000.0)
    print("DEADLINE", flush=True)
    sys.exit(2)


def subscribe(args):
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.bind(args.endpoint)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.setsockopt(zmq.RCVTIMEO, int(DEADLINE * 1000))
    print("READY", flush=True)
    for _ in range(args.count):
        try:
            frames = sub.recv_multipart()
        except zmq.Again:
            print("DEADLINE", flush=True)
            sys.exit(2)
        print(json.dumps([f.decode("utf8", "replace") for f in frames]), flush=True)


def main():
    parser = argparse.ArgumentParser()
    modes = parser.add_subparsers(dest="mode", required=True)
    p = modes.add_parser("publish")
    p.add_argument("endpoint")
    p.add_argument("--root-topic", default="")
    p.add_argument("--interval-ms", type=int, default=20)
    s = modes.add_parser("subscribe")
    s.add_argument("endpoint")
    s.add_argument("count", type=int)
    args = parser.parse_args()
    {"publish": publish, "subscribe": subscribe}[args.mode](args)


if __name__ == "__main__":
    main()
