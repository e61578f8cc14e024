#!/usr/bin/python3
"""Polls the demo web server and logs what it sees; exits non-zero when it is unreachable."""
import os
import sys
import time
import urllib.request

url = os.environ.get("URL", "http://127.0.0.1:8080/")
interval = float(os.environ.get("INTERVAL", "5"))
while True:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            body = r.read()
        print(f"GET {url}: {r.status}, {len(body)} bytes")
    except OSError as e:
        print(f"GET {url} failed: {e}", file=sys.stderr)
        sys.exit(1)
    time.sleep(interval)
