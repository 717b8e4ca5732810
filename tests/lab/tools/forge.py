#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Forge SYN-ACKs for the anypin lab's forged_synack scenario (scapy).

Runs on the router: waits on IFACE (the link to the client) for the
client's SYN to ANYCAST:PORT, then sends the client, on the same link,
one SYN-ACK per --forge SRC:ACK, which answers that SYN from SRC with the
ACK number ISN+1+ACK (0 = the right one).  The forgeries carry MSS and
the capability option (kind 253, ExID --exid) like a real responder's.

Touches "READY" in --ready once it listens; prints "sport isn" of the SYN
and one "sent SRC ACKNUM" line per forgery; exit status 1 if no SYN came
within --timeout seconds.
"""

import argparse
import random
import sys

from scapy.all import Ether, IP, IPv6, TCP, conf, sendp, sniff  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iface", required=True)
    ap.add_argument("--client", required=True, help="client address")
    ap.add_argument("--anycast", required=True)
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--exid", type=lambda s: int(s, 0), default=0xA7C1)
    ap.add_argument("--forge", action="append", default=[],
                    help="SRC:ACKOFFSET (SRC may be IPv6; split at the last :)")
    ap.add_argument("--ready")
    ap.add_argument("--timeout", type=float, default=10)
    args = ap.parse_args()
    conf.verb = 0
    v6 = ":" in args.client
    ipl = IPv6 if v6 else IP

    def is_syn(p):
        return (p.haslayer(TCP) and p.haslayer(ipl) and
                p[ipl].src == args.client and p[ipl].dst == args.anycast and
                p[TCP].dport == args.port and p[TCP].flags == "S")

    def ready():
        if args.ready:
            with open(args.ready, "w") as f:
                f.write("READY\n")

    got = sniff(iface=args.iface, lfilter=is_syn, count=1,
                timeout=args.timeout, started_callback=ready)
    if not got:
        print("no SYN seen", file=sys.stderr)
        return 1
    syn = got[0]
    sport, isn = syn[TCP].sport, syn[TCP].seq
    print(f"{sport} {isn}", flush=True)
    opts = [("MSS", 1440 if v6 else 1460),
            (253, args.exid.to_bytes(2, "big"))]
    frames = []
    for spec in args.forge:
        src, off = spec.rsplit(":", 1)
        ack = (isn + 1 + int(off)) & 0xFFFFFFFF
        ip = ipl(src=src, dst=args.client)
        frames.append((src, ack, Ether(src=syn[Ether].dst, dst=syn[Ether].src) /
                       ip / TCP(sport=args.port, dport=sport, flags="SA",
                                seq=random.getrandbits(32), ack=ack,
                                window=64240, options=opts)))
    for src, ack, fr in frames:
        sendp(fr, iface=args.iface)
        print(f"sent {src} {ack}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
