#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Flip the route of A and record a download's timeline (one demo run).

Started before the download, it says READY (creates the file), then waits
for the file GO, which holds T0 (bash's $EPOCHREALTIME when curl started).
From then on, every INTERVAL seconds it writes "SECONDS BYTES" to DAT
(SECONDS since T0, BYTES the size of the download's output file OUT).
Once OUT has LEAD bytes it flips the router's route of A (both families)
between inst1 and inst2 every FLIP_MS ms, as lab_flap_start does, and
writes "SECONDS N INSTANCE" to FLIPLOG per flip.  At the fourth flip it
runs FLOWS_CMD (`anypinctl flows` in the client's namespace) in the
background, its output to FLOWS (complete once FLOWS exists; the time and
the flips so far to FLOWS.at).  When the file DONE appears (the download
ended) it stops, routes A back to inst1 and exits.

The routes go through one long-running `ip -n ROUTER -batch -`, and the
flows command starts at its flip: no process is started per flip, so the
flips keep their pace and the table is read mid-download even on a slow
or busy machine (the VM), where lab_flap_start's loop (two execs per
flip) and a shell waiting for it can fall seconds behind.
"""

import argparse
import os
import shlex
import subprocess
import sys
import time


def size(path):
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


class Flows:
    """FLOWS_CMD in the background, its output to FLOWS when complete."""

    def __init__(self, cmd, path):
        self.cmd, self.path = cmd, path
        self.proc = None

    def start(self, now, flips):
        if not self.cmd or self.proc:
            return
        with open(self.path + ".at", "w") as f:
            f.write(f"{now:.2f} {flips}\n")
        self.out = open(self.path + ".tmp", "w")
        self.proc = subprocess.Popen(shlex.split(self.cmd), stdout=self.out,
                                     stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def poll(self, wait=False):
        if not self.proc or self.out.closed:
            return
        if wait:
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.poll() is not None:
            self.out.close()
            os.rename(self.path + ".tmp", self.path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--router", required=True, help="the router's netns")
    ap.add_argument("--route1", required=True,
                    help="A's routes to inst1, ';'-separated ip commands")
    ap.add_argument("--route2", required=True, help="the same to inst2")
    ap.add_argument("--flip-ms", type=int, default=100)
    ap.add_argument("--lead", type=int, required=True,
                    help="bytes received before the first flip")
    ap.add_argument("--interval", type=float, default=0.02)
    ap.add_argument("--ready", required=True)
    ap.add_argument("--go", required=True)
    ap.add_argument("--out", required=True, help="the growing download")
    ap.add_argument("--done", required=True, help="exists once it ended")
    ap.add_argument("--dat", required=True)
    ap.add_argument("--fliplog", required=True)
    ap.add_argument("--flows-cmd", help="run at the fourth flip")
    ap.add_argument("--flows", help="FLOWS_CMD's output")
    ap.add_argument("--limit", type=float, default=120,
                    help="give up after this many seconds")
    a = ap.parse_args()

    cmds = {name: "".join(c.strip() + "\n" for c in r.split(";"))
            for name, r in (("inst1", a.route1), ("inst2", a.route2))}
    ip = subprocess.Popen(["ip", "-n", a.router, "-batch", "-"],
                          stdin=subprocess.PIPE, text=True)
    flows = Flows(a.flows_cmd, a.flows)

    def route(inst):
        ip.stdin.write(cmds[inst])
        ip.stdin.flush()

    open(a.ready, "w").close()
    deadline = time.monotonic() + a.limit
    while not os.path.exists(a.go):
        if time.monotonic() > deadline:
            print("timeline: no GO", file=sys.stderr)
            return 1
        time.sleep(0.005)
    with open(a.go) as f:
        t0 = float(f.read().strip())

    rc = 0
    at = "inst1"
    flips = 0
    next_flip = None
    with open(a.dat, "w") as dat, open(a.fliplog, "w") as fl:
        dat.write("0.000 0\n")
        while True:
            done = os.path.exists(a.done)
            got = size(a.out)
            now = time.time() - t0
            dat.write(f"{now:.3f} {got}\n")
            flows.poll()
            if done:
                break
            if next_flip is None and got >= a.lead:
                next_flip = time.monotonic() + a.flip_ms / 1000
            if next_flip is not None and time.monotonic() >= next_flip:
                at = "inst2" if at == "inst1" else "inst1"
                try:
                    route(at)
                except OSError as e:
                    print(f"timeline: ip -batch: {e}", file=sys.stderr)
                    rc = 1
                    break
                flips += 1
                fl.write(f"{time.time() - t0:.3f} {flips} {at}\n")
                fl.flush()
                if flips == 4:
                    flows.start(time.time() - t0, flips)
                # On the schedule, not after it: no drift, and no
                # catching up in a burst after a stall.
                next_flip = max(next_flip + a.flip_ms / 1000,
                                time.monotonic() + a.flip_ms / 2000)
            if time.monotonic() > deadline:
                print("timeline: the download did not end", file=sys.stderr)
                rc = 1
                break
            wake = time.monotonic() + a.interval
            if next_flip is not None:
                wake = min(wake, next_flip)
            time.sleep(max(0, wake - time.monotonic()))
    try:
        if at != "inst1":
            route("inst1")
        ip.stdin.close()
    except OSError:
        rc = 1
    if ip.wait() != 0:
        print(f"timeline: ip -batch exited with {ip.returncode}",
              file=sys.stderr)
        rc = 1
    flows.poll(wait=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
