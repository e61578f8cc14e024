#!/usr/bin/python3
"""A static web server that speaks the sd_notify protocol, as real daemons do."""
import argparse
import functools
import http.server
import os
import socket


def sd_notify(msg):
    path = os.environ.get("NOTIFY_SOCKET")
    if not path:
        return
    if path.startswith("@"):
        path = "\0" + path[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.connect(path)
        s.send(msg.encode())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port", type=int, default=8080)
    a = ap.parse_args()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=a.dir)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", a.port), handler)
    print(f"listening on http://127.0.0.1:{a.port}/ serving {a.dir}", flush=True)
    sd_notify(f"READY=1\nSTATUS=Serving {a.dir} on port {a.port}")
    srv.serve_forever()


if __name__ == "__main__":
    main()
