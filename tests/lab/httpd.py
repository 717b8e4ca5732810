#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""HTTP server of the anypin lab instances (python3 standard library only).

Serves the files of DIRECTORY on [::]:PORT (IPv4 too, dual-stack), like
`python3 -m http.server`, plus:

  ?rate=BYTES_PER_SECOND   paces the response body on the server side, so
                           the TCP connection carries packets (and ACKs)
                           all along; client-side curl --limit-rate reads in
                           bursts and leaves the connection idle in between
  ?hold=BYTES&go=NAME      with rate: stops the body once BYTES are sent
                           until the file NAME exists in the --hold-dir
                           (at most HOLD_MAX s), then goes on at the same
                           pace; a scenario's action (a flip, a drain)
                           then lands at the same byte of the transfer
                           however slow the machine
  X-Lab-Instance: NAME     response header naming the instance (also in the
                           file /whoami)
"""

import argparse
import http.server
import os
import re
import socket
import socketserver
import sys
import time
import urllib.parse

CHUNK = 16 * 1024
HOLD_MAX = 600


class Handler(http.server.SimpleHTTPRequestHandler):
    instance = "?"
    hold_dir = None

    def end_headers(self):
        self.send_header("X-Lab-Instance", self.instance)
        super().end_headers()

    def copyfile(self, source, outputfile):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        rate = self.number(query, "rate")
        if rate <= 0:
            super().copyfile(source, outputfile)
            return
        hold = self.number(query, "hold")
        go = query.get("go", [""])[0]
        if not self.hold_dir or not re.fullmatch(r"[A-Za-z0-9._-]+", go):
            hold = 0
        start = time.monotonic()
        sent = 0
        while True:
            buf = source.read(CHUNK)
            if not buf:
                break
            outputfile.write(buf)
            sent += len(buf)
            if 0 < hold <= sent:
                hold = 0
                outputfile.flush()
                self.wait_for(os.path.join(self.hold_dir, go))
                # the pace goes on from here, without a burst to catch up
                start = time.monotonic() - sent / rate
            ahead = start + sent / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)

    @staticmethod
    def number(query, key):
        try:
            return int(query.get(key, ["0"])[0])
        except ValueError:
            return 0

    @staticmethod
    def wait_for(path):
        end = time.monotonic() + HOLD_MAX
        while not os.path.exists(path) and time.monotonic() < end:
            time.sleep(0.01)


class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        # A Fast Open queue: used only while net.ipv4.tcp_fastopen has
        # the server bit (the second_chance scenario's tfo phase).
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 64)
        # Not HTTPServer's: its getfqdn() waits seconds for a resolver
        # that the lab (and the VM) does not have.
        socketserver.TCPServer.server_bind(self)
        self.server_name = "lab"
        self.server_port = self.server_address[1]

    def handle_error(self, request, client_address):
        # A reset in the middle of a response is what the lab provokes.
        err = sys.exc_info()[1]
        print(f"{client_address[0]} {type(err).__name__}: {err}",
              file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--bind", default="::")
    ap.add_argument("--name", default="?")
    ap.add_argument("--hold-dir")
    ap.add_argument("directory")
    args = ap.parse_args()

    Handler.instance = args.name
    Handler.hold_dir = args.hold_dir

    def handler(*a, **kw):
        return Handler(*a, directory=args.directory, **kw)

    with Server((args.bind, args.port), handler) as srv:
        print(f"serving {args.directory} on [{args.bind}]:{args.port}",
              file=sys.stderr, flush=True)
        srv.serve_forever()


if __name__ == "__main__":
    main()
