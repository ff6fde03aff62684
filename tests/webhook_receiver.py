#!/usr/bin/env python3
"""A webhook receiver for the tests, verifying every delivery with the Standard Webhooks
reference library (PyPI `standardwebhooks`), not with Horizon's own code.

    webhook_receiver.py serve SECRET LOGFILE    prints its port, then serves until killed
    webhook_receiver.py verify SECRET           reads {"headers": {...}, "body": "..."} on stdin;
                                                exit 0 when the library accepts it, 1 when not

Paths: /ok answers 200; /fail-twice answers 500 to the first two attempts of each webhook-id,
then 200; /gone answers 410; /slow waits 3 s, then 200. Every request is logged as a JSON line:
{path, headers, body, verified, status}.
"""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook


def verify(secret, headers, body):
    try:
        Webhook(secret).verify(body, headers)
        return True
    except Exception:  # the library raises its own error, or ValueError on a malformed header
        return False


def serve(secret, logfile):
    seen = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
            headers = {k.lower(): v for k, v in self.headers.items()}
            msg = headers.get("webhook-id", "")
            with lock:
                seen[msg] = seen.get(msg, 0) + 1
                n = seen[msg]
            if self.path == "/fail-twice":
                status = 500 if n <= 2 else 200
            elif self.path == "/gone":
                status = 410
            elif self.path == "/slow":
                time.sleep(3)
                status = 200
            else:
                status = 200
            entry = {"path": self.path, "headers": headers, "body": body,
                     "verified": verify(secret, headers, body), "status": status}
            with lock, open(logfile, "a") as f:
                f.write(json.dumps(entry) + "\n")
            try:
                self.send_response(status)
                self.end_headers()
            except BrokenPipeError:
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "verify":
        data = json.load(sys.stdin)
        sys.exit(0 if verify(sys.argv[2], data["headers"], data["body"]) else 1)
