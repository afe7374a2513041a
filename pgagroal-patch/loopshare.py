#!/usr/bin/env python3
"""loopshare.py -- how much of the machine's CPU the event loop takes while pgbench runs
through pgagroal: the ceiling on what any event-loop library can change in pgagroal's TPS.

Input: `perf record -a -g -e cpu-clock` data (whole machine, kernel call chains), read with
`perf script -F comm,pid,ip,sym,dso`. Each sample is one CPU-clock tick of one CPU: idle
(the swapper task), or some task running in user space or in the kernel.

A sample is charged to the event loop when it is a pgagroal process's (PostgreSQL and
pgbench wait in epoll/poll too: theirs are not ours) and
  * kernel: its kernel call chain runs through a system call the loop makes to wait or to
    change interest (epoll_wait/epoll_pwait/epoll_ctl, io_uring_enter/io_uring_register,
    poll/ppoll/select), or through io_uring request processing (io_uring task work);
  * user: the sampled instruction itself (the leaf frame) is in the loop library: the
    object libev.so.4 (Debian's or evring's shared build) or, for a static build, a
    function named ev_* or ev::* (evring's Rust code) in any object.
The user callbacks the loop calls are pgagroal's own work and are not charged (only the
leaf frame is looked at). Page faults and fork/exit work of pgagroal's worker processes are
not charged either (they are pgagroal's), so for pgbench -C this is a lower bound.

Bias between backends: epoll's wake-up work (ep_poll_callback) runs in the process that
makes a socket readable (PostgreSQL, pgbench) and is not charged, while an io_uring wait's
wake-up continues as task work in pgagroal's process and is charged: the io_uring backend's
share is overstated by that much against epoll (libev).

If the machine is CPU-bound (low idle share), a loop that cost nothing at all would raise TPS
by at most 1 / (1 - loop share of busy samples): that bound is printed as `ceiling`. Part of
the loop's kernel share is switching away when it blocks and back when it wakes (call chains
through schedule(): `loop_sched`); every loop that waits pays it, as long as pgagroal runs a
process per client. `ceiling_nowait` = 1 / (1 - (loop - loop_sched)) is the bound for a loop
whose only cost is waiting.

Usage: loopshare.py PERF.DATA [LABEL]    (prints one line of key=value fields)
"""
import os
import re
import subprocess
import sys

KERNEL_LOOP = re.compile(
    r"^(__x64_sys_|__do_sys_|__se_sys_|do_)?"
    r"(epoll_wait|epoll_pwait2?|epoll_ctl|io_uring_enter|io_uring_register|poll|ppoll|select|pselect6)$"
    r"|^do_epoll_(wait|ctl)$|^io_uring_(enter|register)$|^tctx_task_work|^io_handle_tw_list$"
    r"|^io_(epoll_ctl|epoll_wait|poll_add|poll_task_func|submit_sqes|cqring_wait|issue_sqe)$"
)
SCHED = {"schedule", "__schedule", "schedule_hrtimeout_range", "schedule_hrtimeout_range_clock",
         "schedule_timeout", "io_cqring_wait", "io_cqring_wait_schedule"}
LOOP_DSO = re.compile(r"(^|/)libev\.so")
LOOP_SYM = re.compile(r"^(ev_|ev::|_ZN2ev)")
# libc's wrappers of the loop's system calls (a sample on the instruction after the syscall);
# pgagroal itself makes none of these calls.
LOOP_LIBC = {"epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl", "__poll", "poll", "ppoll",
             "__select", "select", "syscall"}


def samples(path):
    p = subprocess.run(["perf", "script", "-i", path, "-F", "comm,pid,ip,sym,dso"],
                       capture_output=True, text=True, errors="replace")
    comm, frames = None, []
    for line in p.stdout.splitlines():
        if not line.strip():
            if comm is not None:
                yield comm, frames
            comm, frames = None, []
            continue
        if not line[0].isspace():
            comm = line.split()[0]
            frames = []
            continue
        m = re.match(r"^\s*([0-9a-f]+)\s+(.*?)\s+\((.*)\)\s*$", line)
        if m:
            addr, sym, dso = m.groups()
            sym = re.sub(r"\+0x[0-9a-f]+$", "", sym)
            frames.append((int(addr, 16), sym, dso))
    if comm is not None:
        yield comm, frames


def main():
    path = sys.argv[1]
    label = sys.argv[2] if len(sys.argv) > 2 else ""
    n = idle = busy = loop_k = loop_u = agroal = agroal_loop = loop_sched = 0
    top = {}
    for comm, frames in samples(path):
        n += 1
        if comm == "swapper" or (frames and frames[0][1] in ("pv_native_safe_halt", "default_idle")):
            idle += 1
            continue
        busy += 1
        is_agroal = comm.startswith("pgagroal")
        agroal += is_agroal
        kernel = [f for f in frames if f[2] == "[kernel.kallsyms]"]
        user = [f for f in frames if f[2] != "[kernel.kallsyms]"]
        hit = False
        if not is_agroal:
            pass
        elif kernel and frames[0][2] == "[kernel.kallsyms]":
            if any(KERNEL_LOOP.match(sym) for _, sym, _ in kernel):
                loop_k += 1
                hit = True
                # Switching away while the loop blocks and back when it wakes: the price of
                # waiting at all, the same for any loop (pgagroal has a process per client).
                if any(sym in SCHED for _, sym, _ in kernel):
                    loop_sched += 1
                top[kernel[0][1]] = top.get(kernel[0][1], 0) + 1
        elif user:
            _, sym, dso = user[0]
            libc = "/libc.so" in dso
            if LOOP_DSO.search(dso) or LOOP_SYM.match(sym) or (libc and sym in LOOP_LIBC):
                loop_u += 1
                hit = True
        agroal_loop += hit and is_agroal
    if busy == 0 or loop_k + loop_u >= busy:
        print("%s samples=%d busy=%d (nothing to compare)" % (label, n, busy))
        return
    share = (loop_k + loop_u) / busy
    print("%s samples=%d idle=%.1f%% loop=%.2f%% loop_user=%.2f%% loop_kernel=%.2f%% loop_sched=%.2f%% "
          "pgagroal=%.1f%% loop_of_pgagroal=%.2f%% ceiling=%.3f ceiling_nowait=%.3f"
          % (label, n, 100.0 * idle / n, 100.0 * share, 100.0 * loop_u / busy, 100.0 * loop_k / busy,
             100.0 * loop_sched / busy, 100.0 * agroal / busy, 100.0 * agroal_loop / max(agroal, 1),
             1.0 / (1.0 - share), 1.0 / (1.0 - share + loop_sched / busy)))
    if os.environ.get("LOOPSHARE_TOP"):
        for sym, c in sorted(top.items(), key=lambda x: -x[1])[:25]:
            print("  %5.2f%% %s" % (100.0 * c / busy, sym), file=sys.stderr)


if __name__ == "__main__":
    main()
