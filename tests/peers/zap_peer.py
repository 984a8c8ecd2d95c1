#!/usr/bin/env python3
"""A pyzmq peer for the security interop tests (tests/security_interop.rs).

    zap_peer.py plain-server USER PASSWORD
    zap_peer.py plain-client ENDPOINT USER PASSWORD BODY
    zap_peer.py curve-server KEYS
    zap_peer.py curve-client ENDPOINT KEYS BODY
    zap_peer.py make-keys KEYS

Servers are PULL sockets authenticated by pyzmq's ThreadAuthenticator; they
print `ENDPOINT <endpoint>` once bound, then `GOT <body> <user id>` per
message. Clients are PUSH sockets that send BODY once and print `SENT`.
`make-keys` writes pyzmq certificates for "server" and "client" under
KEYS/private (both files) and KEYS/public (public files only) and prints
`KEYS <server public> <client public>`. Every mode exits when its standard
input closes, or at its deadline with status 2.
"""

import os
import shutil
import sys
import threading

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

DEADLINE = 60.0


def say(*words):
    print(*words, flush=True)


def exit_when_stdin_closes():
    def watch():
        sys.stdin.read()
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()
    timer = threading.Timer(DEADLINE, lambda: os._exit(2))
    timer.daemon = True
    timer.start()


def serve(context, server):
    port = server.bind_to_random_port("tcp://127.0.0.1")
    say("ENDPOINT", "tcp://127.0.0.1:%d" % port)
    while True:
        frame = server.recv(copy=False)
        user = frame.get("User-Id") or "-"
        say("GOT", frame.bytes.decode("utf-8", "replace"), user)


def send_once(context, client, endpoint, body):
    client.connect(endpoint)
    client.send(body.encode())
    say("SENT")
    threading.Event().wait()


def main(argv):
    exit_when_stdin_closes()
    mode = argv[0]
    context = zmq.Context.instance()
    if mode == "make-keys":
        keys = argv[1]
        private = os.path.join(keys, "private")
        public = os.path.join(keys, "public")
        os.makedirs(private, exist_ok=True)
        os.makedirs(public, exist_ok=True)
        server_public, server_secret = zmq.auth.create_certificates(private, "server")
        client_public, client_secret = zmq.auth.create_certificates(private, "client")
        # pyzmq leaves secret files as the umask makes them; secret files
        # others can read are refused by tx0mq's loader.
        for path in (server_secret, client_secret):
            os.chmod(path, 0o600)
        for path in (server_public, client_public):
            shutil.copy(path, public)
        server_key, _ = zmq.auth.load_certificate(server_public)
        client_key, _ = zmq.auth.load_certificate(client_public)
        say("KEYS", server_key.decode(), client_key.decode())
        return 0
    if mode == "plain-server":
        user, password = argv[1], argv[2]
        auth = ThreadAuthenticator(context)
        auth.start()
        auth.configure_plain(domain="*", passwords={user: password})
        server = context.socket(zmq.PULL)
        server.plain_server = True
        serve(context, server)
    elif mode == "plain-client":
        endpoint, user, password, body = argv[1:5]
        client = context.socket(zmq.PUSH)
        client.plain_username = user.encode()
        client.plain_password = password.encode()
        send_once(context, client, endpoint, body)
    elif mode == "curve-server":
        keys = argv[1]
        auth = ThreadAuthenticator(context)
        auth.start()
        auth.configure_curve(domain="*", location=os.path.join(keys, "public"))
        public, secret = zmq.auth.load_certificate(
            os.path.join(keys, "private", "server.key_secret"))
        server = context.socket(zmq.PULL)
        server.curve_publickey = public
        server.curve_secretkey = secret
        server.curve_server = True
        serve(context, server)
    elif mode == "curve-client":
        endpoint, keys, body = argv[1:4]
        public, secret = zmq.auth.load_certificate(
            os.path.join(keys, "private", "client.key_secret"))
        server_public, _ = zmq.auth.load_certificate(
            os.path.join(keys, "public", "server.key"))
        client = context.socket(zmq.PUSH)
        client.curve_publickey = public
        client.curve_secretkey = secret
        client.curve_serverkey = server_public
        send_once(context, client, endpoint, body)
    else:
        say("ERROR unknown mode", mode)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
