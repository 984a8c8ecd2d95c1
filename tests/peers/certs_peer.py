#!/usr/bin/env python3
"""pyzmq's certificate functions, driven by tests/security_certs.rs.

    certs_peer.py create DIR NAME [KEY=VALUE]...
        zmq.auth.create_certificates(DIR, NAME, metadata), then prints
            FILES <public file> <secret file>
            KEYS <public key> <secret key>     as load_certificate reads them back
            DERIVED <public key>               zmq.curve_public(<secret key>)

    certs_peer.py load FILE...
        prints, for each file, what zmq.auth.load_certificate returns:
            CERT <file> <public key> <secret key, or ->
        and for each one with a secret key
            DERIVED <file> <public key>        zmq.curve_public(<secret key>)

    certs_peer.py loaddir DIR
        prints the keys zmq.auth.load_certificates returns, sorted:
            DIR <count> <public key>...

Keys are printed as their Z85 text. Then DONE; on an error, ERROR <text>
and exit status 1.
"""

import sys
import traceback

import zmq
import zmq.auth


def text(key):
    """A key as pyzmq returns it (Z85 bytes) as text."""
    return key.decode("ascii") if key is not None else "-"


def create(directory, name, pairs):
    metadata = dict(pair.split("=", 1) for pair in pairs)
    public_file, secret_file = zmq.auth.create_certificates(directory, name, metadata)
    print("FILES", public_file, secret_file)
    public, secret = zmq.auth.load_certificate(secret_file)
    print("KEYS", text(public), text(secret))
    print("DERIVED", text(zmq.curve_public(secret)))


def load(files):
    for path in files:
        public, secret = zmq.auth.load_certificate(path)
        print("CERT", path, text(public), text(secret))
        if secret is not None:
            print("DERIVED", path, text(zmq.curve_public(secret)))


def loaddir(directory):
    keys = sorted(text(key) for key in zmq.auth.load_certificates(directory))
    print("DIR", len(keys), *keys)


def main(argv):
    mode, args = argv[0], argv[1:]
    if mode == "create":
        create(args[0], args[1], args[2:])
    elif mode == "load":
        load(args)
    elif mode == "loaddir":
        loaddir(args[0])
    else:
        raise ValueError("unknown mode %r" % mode)
    print("DONE")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except Exception as e:  # the test shows the traceback on stderr
        traceback.print_exc()
        print("ERROR", type(e).__name__, e)
        sys.exit(1)
