"""Shared benchmark plumbing: thread limits, alternating timing, GEMM peak, RESULTS.md.

Every family module ``benchmarks/<family>.py`` defines ``run(args) -> list of
rows``; a row is a dict with at least ``name`` and whatever figures it measured
(``fastnut_s``, ``peer_s``, ``ratio``, ``gflops`` ...).  The runner prints them
and, with ``--record``, appends a section to ``benchmarks/RESULTS.md`` with the
command that produced it.
"""
import contextlib
import datetime
import importlib
import os
import platform
import statistics
import sys
import time

import numpy as np

perf = time.perf_counter
HERE = os.path.dirname(os.path.abspath(__file__))
CLOCK = {"name": "wall clock"}


def use_cpu_clock():
    """Time ``time_alternating`` with this process's CPU time instead of the
    wall clock (``--cpu-time``).  On a machine shared with other busy
    processes the wall clock also counts the time they hold the core; the CPU
    clock does not (cache and memory contention still show).  One-thread
    measurements only: with several threads it adds their times up."""
    global perf
    perf = time.process_time
    CLOCK["name"] = "process CPU time"


@contextlib.contextmanager
def one_thread(n=1):
    """Limit BLAS, OpenMP and (if loaded) torch to ``n`` threads."""
    from threadpoolctl import threadpool_limits
    torch = sys.modules.get("torch")
    old = torch.get_num_threads() if torch is not None else None
    if torch is not None:
        torch.set_num_threads(n)
    with threadpool_limits(limits=n):
        yield
    if torch is not None:
        torch.set_num_threads(old)


def try_import(name):
    """Import a peer, or print why it is skipped and return None."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        print(f"[skip] peer {name!r} is not installed ({exc}); "
              f"`pip install -e '.[bench]'` brings the peers", flush=True)
        return None


def _calls_per_sample(fn, min_time):
    t0 = perf()
    fn()
    one = perf() - t0
    return max(1, int(min_time / one)) if one > 0 else 1000


def time_alternating(fns, reps=7, min_time=0.05, warmup=1):
    """Median seconds per call of each function in ``fns`` (a dict name -> fn).

    The functions run in turn inside every repetition (A B A B ...), so a change
    in machine load hits all of them alike and ratios stay fair.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    inner = {k: _calls_per_sample(fn, min_time) for k, fn in fns.items()}
    samples = {k: [] for k in fns}
    for r in range(reps):
        order = list(fns) if r % 2 == 0 else list(fns)[::-1]
        for k in order:
            fn, n = fns[k], inner[k]
            t0 = perf()
            for _ in range(n):
                fn()
            samples[k].append((perf() - t0) / n)
    return {k: float(statistics.median(v)) for k, v in samples.items()}


def gemm_peak(n=1024, dtype=np.float32, reps=5):
    """Measured single-thread GEMM GFLOP/s of numpy's BLAS: the yardstick."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    c = np.empty((n, n), dtype)
    with one_thread():
        t = time_alternating({"gemm": lambda: np.matmul(a, b, out=c)}, reps=reps, min_time=0.1)
    return 2.0 * n ** 3 / t["gemm"] / 1e9


def fmt_row(row):
    parts = [f"{row['name']}"]
    for k, v in row.items():
        if k == "name":
            continue
        if isinstance(v, float):
            parts.append(f"{k}={v:.4g}")
        else:
            parts.append(f"{k}={v}")
    return "  ".join(parts)


def record(command, family_rows, peak):
    """Append a dated section with the command and a table per family."""
    path = os.path.join(HERE, "RESULTS.md")
    lines = [
        "",
        f"## {datetime.date.today().isoformat()} — `{command}`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"numpy {np.__version__}; float32 GEMM peak (numpy, 1 thread, n=1024): **{peak:.0f} GFLOP/s**; "
        f"timed with the {CLOCK['name']}.",
    ]
    for family, rows in family_rows.items():
        if not rows:
            continue
        keys = []
        for r in rows:
            keys += [k for k in r if k not in keys]
        lines += ["", f"### {family}", "", "| " + " | ".join(keys) + " |",
                  "|" + "---|" * len(keys)]
        for r in rows:
            cells = []
            for k in keys:
                v = r.get(k, "")
                cells.append(f"{v:.4g}" if isinstance(v, float) else str(v))
            lines.append("| " + " | ".join(cells) + " |")
    with open(path, "a") as f:
        f.write("\n".join(lines) + "\n")
    print(f"recorded in {path}")
