#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""SYN flood for the anypin lab's syn_flood scenario (standard library).

Sends COUNT TCP SYNs from SRC to DST:PORT for each --to SRC,DST (IPv4 and
IPv6 interleaved), each from a random source port in --sports LOW-HIGH
with a random ISN.  They leave through raw sockets (IPPROTO_TCP; the
kernel adds the IP header), so they go through the sending host's
netfilter OUTPUT hook, where a client datapath sees them like the SYNs of
the host's own connections.  Prints "sent N DST" per pair.
"""

import argparse
import errno
import random
import socket
import struct
import sys
import time

IPV6_CHECKSUM = 7


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def syn(src, dst, sport, dport, seq, v6):
    # 20 bytes of header + MSS option (4 bytes): data offset 6.
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 6 << 4, 0x02,
                      64240, 0, 0) + struct.pack("!BBH", 2, 4, 1460)
    if v6:
        return hdr  # the kernel fills the checksum (IPV6_CHECKSUM)
    pseudo = (socket.inet_pton(socket.AF_INET, src) +
              socket.inet_pton(socket.AF_INET, dst) +
              struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(hdr)))
    c = csum(pseudo + hdr)
    return hdr[:16] + struct.pack("!H", c) + hdr[18:]


def send(s, pkt, dst):
    # A datapath that queues the SYNs to userspace holds them, charged to
    # this socket, until its verdict: wait for room rather than fail.
    for _ in range(10000):
        try:
            s.sendto(pkt, (dst, 0))
            return
        except OSError as e:
            if e.errno not in (errno.ENOBUFS, errno.EAGAIN):
                raise
            time.sleep(0.001)
    raise OSError(errno.ENOBUFS, "no buffer space for 10 s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--to", action="append", required=True,
                    help="SRC,DST (same family)")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--sports", default="30000-65535")
    args = ap.parse_args()
    lo, hi = (int(x) for x in args.sports.split("-"))

    flows = []
    for pair in args.to:
        src, dst = pair.split(",")
        v6 = ":" in dst
        fam = socket.AF_INET6 if v6 else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_RAW, socket.IPPROTO_TCP)
        if v6:
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_CHECKSUM, 16)
        s.bind((src, 0))
        flows.append([s, src, dst, v6, 0])
    for _ in range(args.count):
        for f in flows:
            s, src, dst, v6, _n = f
            pkt = syn(src, dst, random.randint(lo, hi), args.port,
                      random.getrandbits(32), v6)
            send(s, pkt, dst)
            f[4] += 1
    for s, src, dst, v6, n in flows:
        print(f"sent {n} {dst}", flush=True)
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
