#!/usr/bin/env python3
"""badfd.py -- find, in an `strace -f -o FILE` trace of pgagroal, a process that closes an fd
number it still uses and then fails on it with EBADF.

Usage: badfd.py TRACE [--all]

For every process (pid) it follows:
  * TCP sockets it created and connected itself (socket(AF_INET...) = N, then connect(N, ...)),
  * its event-loop fds (epoll_create1, io_uring_setup, eventfd2, signalfd4, timerfd_create),
  * close(N) of such a number by the same process while it is still in use,
  * a later call on N in the same process that fails with EBADF.
It prints a count per kind and the trace lines of the first case of each kind (the creation,
the close, and the failing call, with the calls in between shortened). Exit status 0 when at
least one case was found, 1 otherwise.
"""
import re
import sys
from collections import defaultdict

LINE = re.compile(r"^(\d+)\s+(\S+)\s+(.*)$")
CALL = re.compile(r"^(\w+)\((.*)$")
RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>(.*)$")
RET = re.compile(r"\)\s+=\s+(-?\d+|\?)(?:\s+(\w+))?")
LOOP_FD_CALLS = {"epoll_create1": "epoll fd", "io_uring_setup": "io_uring fd",
                 "eventfd2": "eventfd", "signalfd4": "signalfd", "timerfd_create": "timerfd"}
FD_ARG = {"epoll_ctl": 2}   # position of the watched fd; default: first argument


def parse(path):
    pending = {}
    for n, raw in enumerate(open(path, errors="replace"), 1):
        m = LINE.match(raw.rstrip("\n"))
        if not m:
            continue
        pid, ts, rest = int(m.group(1)), m.group(2), m.group(3)
        if rest.endswith("<unfinished ...>"):
            pending[pid] = rest[: -len("<unfinished ...>")]
            continue
        r = RESUMED.match(rest)
        if r:
            rest = pending.pop(pid, r.group(1) + "(?") + r.group(2)
        c = CALL.match(rest)
        if not c:
            continue
        name, args = c.group(1), c.group(2)
        ret = RET.search(rest)
        rv = ret.group(1) if ret else "?"
        err = ret.group(2) if ret else None
        yield dict(n=n, pid=pid, ts=ts, name=name, args=args, ret=rv, err=err, text=f"{pid} {ts} {rest}")


def arg(args, i):
    parts = args.split(",")
    m = re.match(r"\s*(-?\d+)", parts[i]) if i < len(parts) else None
    return int(m.group(1)) if m else None


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    path, show_all = sys.argv[1], "--all" in sys.argv
    calls = list(parse(path))
    by_pid = defaultdict(list)
    for c in calls:
        by_pid[c["pid"]].append(c)

    cases = defaultdict(list)   # kind -> [(created, closed, failed, pid)]
    ebadf_close = 0
    for pid, seq in by_pid.items():
        owned = {}        # fd -> (kind, [creation lines])
        closed = {}       # fd -> (kind, creation lines, close line)
        for c in seq:
            name = c["name"]
            if name == "socket" and c["ret"].isdigit() and "AF_INET" in c["args"]:
                owned[int(c["ret"])] = ("socket", [c])
                closed.pop(int(c["ret"]), None)
            elif name == "connect":
                fd = arg(c["args"], 0)
                if fd in owned and owned[fd][0] == "socket":
                    owned[fd] = ("own connected server socket", owned[fd][1] + [c])
            elif name in LOOP_FD_CALLS and c["ret"].isdigit():
                owned[int(c["ret"])] = (LOOP_FD_CALLS[name], [c])
                closed.pop(int(c["ret"]), None)
            elif name in ("fcntl", "dup", "dup2", "dup3") and c["ret"].isdigit() and \
                    (name != "fcntl" or "F_DUPFD" in c["args"]):
                fd = arg(c["args"], 0)
                if fd in owned:   # the fd moves to a new number; closing the old one is fine
                    owned[int(c["ret"])] = owned.pop(fd)
                    closed.pop(int(c["ret"]), None)
            elif name in ("accept", "accept4") and c["ret"].isdigit():
                owned.pop(int(c["ret"]), None); closed.pop(int(c["ret"]), None)
            elif name == "close":
                fd = arg(c["args"], 0)
                if c["err"] == "EBADF":
                    ebadf_close += 1
                if fd in owned and c["ret"] == "0":
                    kind, created = owned.pop(fd)
                    if kind != "socket":
                        closed[fd] = (kind, created, c)
                continue
            if c["err"] == "EBADF":
                fd = arg(c["args"], FD_ARG.get(name, 0))
                if fd in closed:
                    kind, created, cl = closed.pop(fd)
                    cases[kind].append((created, cl, c, pid))

    print(f"badfd: {path}: {len(calls)} calls in {len(by_pid)} processes; "
          f"close() = EBADF (number not open at all): {ebadf_close}")
    if not cases:
        print("badfd: no process closed an fd it was using and then failed on it with EBADF")
        return 1
    for kind, lst in cases.items():
        print(f"badfd: {len(lst)} x a process closed its {kind}, then used it: EBADF")
    for kind, lst in cases.items():
        for created, cl, failed, pid in (lst if show_all else lst[:1]):
            print(f"--- first case: {kind}, pid {pid}")
            seq = [c for c in by_pid[pid] if created[0]["n"] <= c["n"] <= failed["n"]]
            keep = {x["n"] for x in created} | {cl["n"], failed["n"]}
            marks = [i for i, c in enumerate(seq) if c["n"] in keep]
            last = None
            for i, c in enumerate(seq):
                near = any(abs(i - j) <= 1 for j in marks)
                if near:
                    print(("> " if c["n"] in keep else "  ") + c["text"][:200])
                    last = c["n"]
                elif last is not None:
                    print("  ...")
                    last = None
    return 0


if __name__ == "__main__":
    sys.exit(main())
