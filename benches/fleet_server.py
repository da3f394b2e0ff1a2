#!/usr/bin/env python3
"""A static file server on 127.0.0.1 for benches/watch-fleet.sh: Python's own http.server
(Last-Modified, If-Modified-Since -> 304, no ETag), threaded, counting what it answers.

Usage: fleet_server.py DIR PORT. GET /__stats returns {"requests", "by_status", "body_bytes"}
as JSON (not counted); GET /__reset zeroes the counters.
"""
import functools
import json
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
STATS = {"requests": 0, "by_status": {}, "body_bytes": 0}


def reset():
    with LOCK:
        STATS.update(requests=0, by_status={}, body_bytes=0)


class Counting(SimpleHTTPRequestHandler):
    def do_GET(self):
        if self.path in ("/__stats", "/__reset"):
            if self.path == "/__reset":
                reset()
            with LOCK:
                body = json.dumps(STATS).encode()
            self.send_response_only(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def send_response(self, code, message=None):
        with LOCK:
            STATS["requests"] += 1
            key = str(code)
            STATS["by_status"][key] = STATS["by_status"].get(key, 0) + 1
        super().send_response(code, message)

    def copyfile(self, source, outputfile):
        data = source.read()
        with LOCK:
            STATS["body_bytes"] += len(data)
        outputfile.write(data)

    def log_message(self, *args):
        pass


def main():
    directory, port = sys.argv[1], int(sys.argv[2])
    handler = functools.partial(Counting, directory=directory)
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
