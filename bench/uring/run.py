#!/usr/bin/env python3
"""Side-by-side benchmark of evring's io_uring strategies against Debian's libev (epoll).

Usage (from the repository root, after `cargo build --release`):
    python3 bench/uring/run.py [--pairs 9] [--cpu 1] [--lib target/release] [--quick]

Builds bench.c and churn.c once against the system <ev.h>/libev.so.4, then runs every
workload alternately (libev-epoll, then one evring configuration, ...) pinned to one CPU with
taskset; each evring/libev pair gives a time ratio, and the table shows the median per-pair
ratio (< 1.00 = evring faster). LD_LIBRARY_PATH selects the library, as c-tests' difftest does.
With --strace it also prints syscalls per loop iteration (strace -f -c, not timed).
"""
import argparse, os, statistics, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))

CONFIGS = [  # name, backend flags, env
    ("evring-epoll", "4", {}),
    ("uring-poll", "128", {"EVRING_URING_MODE": "poll"}),
    ("uring-epollctl", "128", {"EVRING_URING_MODE": "epollctl"}),
    ("uring-epollwait", "128", {"EVRING_URING_MODE": "epollwait", "EVRING_URING_EPW": "ext"}),
    ("uring-epollwait-lt", "128", {"EVRING_URING_MODE": "epollwait", "EVRING_URING_EPW": "lt"}),
    ("uring-epollwait-link", "128", {"EVRING_URING_MODE": "epollwait", "EVRING_URING_EPW": "link"}),
]

WORKLOADS = [  # name, program, args; the timed value is field `col` of the output
    ("bench n=1000 a=100", "bench", ["-n", "1000", "-a", "100", "-r", "9"], 1),
    ("bench n=1000 a=100 -t", "bench", ["-n", "1000", "-a", "100", "-t", "-r", "9"], 1),
    ("bench n=100 a=1", "bench", ["-n", "100", "-a", "1", "-r", "9"], 1),
    ("bench setup+events n=1000 a=100", "bench", ["-n", "1000", "-a", "100", "-r", "9"], 0),
    ("churn flip K=1", "churn", ["-k", "1", "-i", "2000"], 0),
    ("churn flip K=2", "churn", ["-k", "2", "-i", "2000"], 0),
    ("churn flip K=4", "churn", ["-k", "4", "-i", "2000"], 0),
    ("churn flip K=10", "churn", ["-k", "10", "-i", "2000"], 0),
    ("churn flip K=100", "churn", ["-k", "100", "-i", "500"], 0),
    ("churn stop/set/start K=10", "churn", ["-s", "-k", "10", "-i", "2000"], 0),
    ("pingpong (blocking) K=1", "churn", ["-P", "-k", "1", "-i", "500"], 0),
    ("pingpong (blocking) K=10", "churn", ["-P", "-k", "10", "-i", "500"], 0),
]


def build(tmp):
    exe = {}
    for prog in ("bench", "churn"):
        out = os.path.join(tmp, prog)
        subprocess.check_call(["cc", "-O2", "-o", out, os.path.join(HERE, prog + ".c"), "-lev"])
        exe[prog] = out
    return exe


def run(cmd, env, cpu):
    full = ["taskset", "-c", str(cpu)] + cmd
    out = subprocess.run(full, env=env, capture_output=True, text=True, check=True).stdout
    return out.split()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pairs", type=int, default=9)
    ap.add_argument("--cpu", type=int, default=1)
    ap.add_argument("--lib", default="target/release")
    ap.add_argument("--strace", action="store_true")
    ap.add_argument("--configs", help="comma-separated subset of the configuration names")
    ap.add_argument("--workloads", help="comma-separated name prefixes of the workloads to run")
    args = ap.parse_args()
    global CONFIGS, WORKLOADS
    if args.configs:
        want = args.configs.split(",")
        CONFIGS = [c for c in CONFIGS if c[0] in want]
    if args.workloads:
        pre = args.workloads.split(",")
        WORKLOADS = [w for w in WORKLOADS if any(w[0].startswith(p) for p in pre)]
    tmp = tempfile.mkdtemp(prefix="evring-bench-")
    ours = os.path.join(tmp, "ours")
    os.mkdir(ours)
    os.symlink(os.path.abspath(os.path.join(args.lib, "libev.so")), os.path.join(ours, "libev.so.4"))
    exe = build(tmp)
    base_env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "LIBEV_FLAGS")}
    print("| workload | libev-epoll | " + " | ".join(c[0] for c in CONFIGS) + " |")
    print("|---|---|" + "---|" * len(CONFIGS))
    for wname, prog, wargs, col in WORKLOADS:
        ratios = {c[0]: [] for c in CONFIGS}
        base = []
        for _ in range(args.pairs):
            for cname, flags, cenv in CONFIGS:
                a = float(run([exe[prog], "-b", "4"] + wargs, base_env, args.cpu)[col])
                env = dict(base_env, LD_LIBRARY_PATH=ours, **cenv)
                out = run([exe[prog], "-b", flags] + wargs, env, args.cpu)
                b = float(out[col])
                want = "backend=0x%x" % int(flags)
                if want not in out:
                    sys.exit("%s: wrong backend %s" % (cname, out))
                base.append(a)
                ratios[cname].append(b / a)
        unit = "µs" if prog == "bench" else "ns/iter"
        cells = ["%.2fx" % statistics.median(ratios[c[0]]) for c in CONFIGS]
        print("| %s | %.0f %s | %s |" % (wname, statistics.median(base), unit, " | ".join(cells)))
        sys.stdout.flush()
    if args.strace:
        print()
        print("syscalls per loop iteration (strace -f -c; churn K=10, 200 iterations, 1 run):")
        for cname, flags, cenv in [("libev-epoll", "4", None)] + CONFIGS:
            env = dict(base_env)
            if cenv is not None:
                env.update(cenv, LD_LIBRARY_PATH=ours)
            f = os.path.join(tmp, "st")
            subprocess.run(["strace", "-f", "-c", "-o", f, exe["churn"], "-b", flags, "-k", "10",
                            "-i", "200", "-r", "1"], env=env, capture_output=True, check=True)
            counts = {}
            for line in open(f):
                p = line.split()
                if len(p) >= 5 and p[-1] in ("io_uring_enter", "io_uring_register", "epoll_ctl", "epoll_wait", "epoll_pwait"):
                    counts[p[-1]] = int(p[3])
            print("  %-20s %s" % (cname, ", ".join("%s %.2f" % (k, v / 200) for k, v in sorted(counts.items()))))


if __name__ == "__main__":
    main()
