#!/usr/bin/env python3
"""Majordomo (MDP/0.1) peers in plain pyzmq, for tests/examples_majordomo.rs:
the other half of the ports mdbroker, mdclient and mdworker, speaking the
same protocol (7/MDP, and 8/MMI's mmi.service) frame for frame.

    majordomo.py broker ENDPOINT
    majordomo.py worker ENDPOINT SERVICE
    majordomo.py client ENDPOINT SERVICE COUNT [--numbered] [--timeout MS]

broker  binds a ROUTER, prints "I: MDP broker/0.1.1 is active at ENDPOINT",
        and brokers: services with queued requests and idle workers,
        heartbeats to idle workers every 2.5 s, expiry after 3 silent
        heartbeats, mmi.service answered 200/400 (501 for other mmi.).
worker  echoes every request of SERVICE, heartbeating the broker, and starts
        a new session (READY) when the broker is silent or says DISCONNECT.
client  sends COUNT requests one after the other ("Hello world", or
        "Hello world N" with --numbered, each reply checked against its
        request), retrying 3 times on a fresh socket, and prints "N
        requests/replies processed".

Each exits 0 when its standard input closes (the test dropping it) or, for
the client, when it is done; a reply that breaks the protocol prints
"ERROR ..." and exits 1.
"""

import sys
import threading
import time

import zmq

C_CLIENT = b"MDPC01"
W_WORKER = b"MDPW01"
READY, REQUEST, REPLY, HEARTBEAT, DISCONNECT = (bytes([n]) for n in range(1, 6))
LIVENESS = 3
INTERVAL = 2.5  # seconds
EXPIRY = INTERVAL * LIVENESS


def exit_when_stdin_closes():
    def watch():
        sys.stdin.read()
        sys.stdout.flush()
        import os
        os._exit(0)
    threading.Thread(target=watch, daemon=True).start()


def fail(text):
    print("ERROR", text, flush=True)
    sys.exit(1)


def broker(endpoint):
    socket = zmq.Context().socket(zmq.ROUTER)
    socket.linger = 0
    socket.bind(endpoint)
    print("I: MDP broker/0.1.1 is active at", endpoint, flush=True)
    services = {}  # name -> {"requests": [...], "waiting": [...]}
    workers = {}  # address -> {"service": name or None, "expiry": time}
    waiting = []  # idle worker addresses, idle longest first

    def service(name):
        return services.setdefault(name, {"requests": [], "waiting": []})

    def to_worker(address, command, body=()):
        socket.send_multipart([address, b"", W_WORKER, command, *body])

    def delete(address, disconnect):
        if disconnect:
            to_worker(address, DISCONNECT)
        worker = workers.pop(address, None)
        if worker and worker["service"] is not None:
            idle = service(worker["service"])["waiting"]
            if address in idle:
                idle.remove(address)
        if address in waiting:
            waiting.remove(address)

    def purge():
        while waiting and workers[waiting[0]]["expiry"] < time.monotonic():
            delete(waiting[0], False)

    def dispatch(name):
        purge()
        entry = service(name)
        while entry["waiting"] and entry["requests"]:
            address = entry["waiting"].pop(0)
            waiting.remove(address)
            to_worker(address, REQUEST, entry["requests"].pop(0))

    def idle(address):
        worker = workers[address]
        worker["expiry"] = time.monotonic() + EXPIRY
        waiting.append(address)
        service(worker["service"])["waiting"].append(address)
        dispatch(worker["service"])

    heartbeat_at = time.monotonic() + INTERVAL
    while True:
        if socket.poll(int(INTERVAL * 1000)):
            frames = socket.recv_multipart()
            if len(frames) < 3 or frames[1] != b"":
                continue
            sender, header, rest = frames[0], frames[2], frames[3:]
            if header == C_CLIENT and len(rest) >= 2:
                name, body = rest[0], rest[1:]
                envelope = [sender, b""]
                if name.startswith(b"mmi."):
                    code = b"501"
                    if name == b"mmi.service":
                        known = any(w["service"] == body[-1] for w in workers.values())
                        code = b"200" if known else b"400"
                    socket.send_multipart(envelope + [C_CLIENT, name] + body[:-1] + [code])
                else:
                    service(name)["requests"].append(envelope + body)
                    dispatch(name)
            elif header == W_WORKER and rest:
                command, rest = rest[0], rest[1:]
                known = sender in workers
                worker = workers.setdefault(
                    sender, {"service": None, "expiry": time.monotonic() + EXPIRY})
                if command == READY:
                    if known or not rest or rest[0].startswith(b"mmi."):
                        delete(sender, True)
                    else:
                        worker["service"] = rest[0]
                        idle(sender)
                elif command == REPLY:
                    if known and worker["service"] is not None and len(rest) >= 2:
                        client, body = rest[0], rest[2:]
                        socket.send_multipart(
                            [client, b"", C_CLIENT, worker["service"]] + body)
                        idle(sender)
                    else:
                        delete(sender, True)
                elif command == HEARTBEAT:
                    if known:
                        worker["expiry"] = time.monotonic() + EXPIRY
                    else:
                        delete(sender, True)
                elif command == DISCONNECT:
                    delete(sender, False)
        purge()
        if time.monotonic() > heartbeat_at:
            for address in list(waiting):
                to_worker(address, HEARTBEAT)
            heartbeat_at = time.monotonic() + INTERVAL


def worker(endpoint, name):
    context = zmq.Context()
    while True:  # one session per iteration
        socket = context.socket(zmq.DEALER)
        socket.linger = 0
        socket.connect(endpoint)
        socket.send_multipart([b"", W_WORKER, READY, name])
        liveness = LIVENESS
        heartbeat_at = time.monotonic() + INTERVAL
        reconnect = False
        while not reconnect:
            if socket.poll(int(INTERVAL * 1000)):
                frames = socket.recv_multipart()
                liveness = LIVENESS
                if len(frames) < 3 or frames[0] != b"" or frames[1] != W_WORKER:
                    continue
                command = frames[2]
                if command == REQUEST and len(frames) >= 5 and frames[4] == b"":
                    client, body = frames[3], frames[5:]
                    socket.send_multipart([b"", W_WORKER, REPLY, client, b""] + body)
                elif command == DISCONNECT:
                    reconnect = True
            else:
                liveness -= 1
                if liveness == 0:
                    time.sleep(INTERVAL)
                    reconnect = True
            if time.monotonic() > heartbeat_at:
                socket.send_multipart([b"", W_WORKER, HEARTBEAT])
                heartbeat_at = time.monotonic() + INTERVAL
        socket.close()


def client(endpoint, name, count, numbered, timeout):
    context = zmq.Context()

    def connect():
        socket = context.socket(zmq.REQ)
        socket.linger = 0
        socket.connect(endpoint)
        return socket

    socket = connect()
    done = 0
    while done < count:
        body = b"Hello world %d" % (done + 1) if numbered else b"Hello world"
        reply = None
        for _ in range(3):
            socket.send_multipart([C_CLIENT, name, body])
            if socket.poll(timeout):
                reply = socket.recv_multipart()
                break
            socket.close()
            socket = connect()
        if reply is None:
            break
        if len(reply) < 3 or reply[0] != C_CLIENT or reply[1] != name:
            fail("malformed reply %r" % reply)
        if numbered and reply[2:] != [body]:
            fail("request %r answered with %r" % (body, reply[2:]))
        done += 1
    print("%d requests/replies processed" % done, flush=True)


def main():
    mode, endpoint = sys.argv[1], sys.argv[2]
    if mode == "broker":
        exit_when_stdin_closes()
        broker(endpoint)
    elif mode == "worker":
        exit_when_stdin_closes()
        worker(endpoint, sys.argv[3].encode())
    elif mode == "client":
        args = sys.argv[3:]
        timeout = 2500
        if "--timeout" in args:
            timeout = int(args[args.index("--timeout") + 1])
        client(endpoint, args[0].encode(), int(args[1]), "--numbered" in args, timeout)
    else:
        fail("unknown mode %r" % mode)


if __name__ == "__main__":
    main()
