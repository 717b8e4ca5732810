#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Upload sink of the anypin lab instances (python3 standard library only).

An HTTP server on [::]:PORT (IPv4 too, dual-stack) that accepts PUT and
POST of any path, reads the body (Content-Length or chunked) and answers
"SHA256 BYTES NAME\n": the sha256 of what it received, its length and the
instance's name.

  ?rate=BYTES_PER_SECOND   paces the reading on the server side, so the
                           client keeps sending data (and the connection
                           keeps carrying full-size segments) all along
"""

import argparse
import hashlib
import http.server
import socket
import socketserver
import sys
import time
import urllib.parse

CHUNK = 16 * 1024


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    instance = "?"

    def log_message(self, fmt, *args):
        print(f"{self.client_address[0]} {fmt % args}", file=sys.stderr,
              flush=True)

    def chunks(self):
        """The body, in pieces of at most CHUNK bytes."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return
                while size > 0:
                    buf = self.rfile.read(min(size, CHUNK))
                    if not buf:
                        raise ConnectionError("body cut short")
                    size -= len(buf)
                    yield buf
                self.rfile.readline()
        left = int(self.headers.get("Content-Length", "0"))
        while left > 0:
            buf = self.rfile.read(min(left, CHUNK))
            if not buf:
                raise ConnectionError("body cut short")
            left -= len(buf)
            yield buf

    def do_PUT(self):
        query = urllib.parse.urlsplit(self.path).query
        try:
            rate = int(urllib.parse.parse_qs(query).get("rate", ["0"])[0])
        except ValueError:
            rate = 0
        digest = hashlib.sha256()
        got = 0
        start = time.monotonic()
        for buf in self.chunks():
            digest.update(buf)
            got += len(buf)
            if rate > 0:
                ahead = start + got / rate - time.monotonic()
                if ahead > 0:
                    time.sleep(ahead)
        body = f"{digest.hexdigest()} {got} {self.instance}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Lab-Instance", self.instance)
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_PUT


class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        # Not HTTPServer's: its getfqdn() waits seconds for a resolver
        # that the lab (and the VM) does not have.
        socketserver.TCPServer.server_bind(self)
        self.server_name = "lab"
        self.server_port = self.server_address[1]

    def handle_error(self, request, client_address):
        err = sys.exc_info()[1]
        print(f"{client_address[0]} {type(err).__name__}: {err}",
              file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8081)
    ap.add_argument("--bind", default="::")
    ap.add_argument("--name", default="?")
    args = ap.parse_args()
    Handler.instance = args.name
    with Server((args.bind, args.port), Handler) as srv:
        print(f"upload sink on [{args.bind}]:{args.port}", file=sys.stderr,
              flush=True)
        srv.serve_forever()


if __name__ == "__main__":
    main()
