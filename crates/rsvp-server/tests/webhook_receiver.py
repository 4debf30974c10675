"""A webhook receiver for the end-to-end test of rsvp's webhooks.

Verifies EVERY delivery with the official Standard Webhooks library
(`standardwebhooks` from PyPI, not code of ours) and prints one JSON line
per request on stdout: mode, headers, body, whether it verified.

Its behaviour comes from a control file (JSON, re-read on every request and
every 50 ms): {"mode": "500" | "down" | "hang" | "ok", "secret": "whsec_..."}.
"down" closes the listening socket (connections are refused) until the mode
changes; "hang" holds the request for 3 s, longer than the sender's timeout.
The port is printed first: {"port": N}.
"""

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

CONTROL = sys.argv[1]
PRINT = threading.Lock()


def control():
    try:
        with open(CONTROL) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {"mode": "500", "secret": ""}


def emit(record):
    with PRINT:
        print(json.dumps(record), flush=True)


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("content-length", "0"))
        body = self.rfile.read(length)
        state = control()
        headers = {k.lower(): v for k, v in self.headers.items()}
        try:
            Webhook(state["secret"]).verify(body, headers)
            verified = True
        except Exception as error:  # any failure to verify is recorded, not hidden
            verified = False
            headers["x-verify-error"] = repr(error)
        mode = state["mode"]
        emit({"mode": mode, "verified": verified, "headers": headers, "body": body.decode()})
        if mode == "hang":
            time.sleep(3)
            status = 200
        elif mode == "ok":
            status = 204
        else:
            status = 500
        try:
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()
        except OSError:
            pass

    def log_message(self, *args):
        pass


def serve(port):
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


server = serve(0)
port = server.server_address[1]
emit({"port": port})
while True:
    down = control()["mode"] == "down"
    if down and server is not None:
        server.shutdown()
        server.server_close()
        server = None
        emit({"mode": "down", "listening": False})
    elif not down and server is None:
        server = serve(port)
        emit({"mode": control()["mode"], "listening": True})
    time.sleep(0.05)
