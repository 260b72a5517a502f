"""Run fastnut's benchmarks against its peers: ``python -m benchmarks [family ...]``.

Families: gemm, mlp, cnn, rnn, som, rbm, dbn, autoencoder, onnx, conv1d, batchnorm, threads
(default: all that exist).
Options: ``--record`` appends the figures to benchmarks/RESULTS.md;
``--quick`` shrinks the workloads for a smoke run.
Everything runs on one thread (BLAS, OpenMP and torch), peers in the same
process, alternating with fastnut; ``threads`` compares 1 thread with all cores.
"""
import argparse
import importlib
import os
import sys

from ._common import fmt_row, gemm_peak, record

FAMILIES = ["gemm", "mlp", "cnn", "rnn", "som", "rbm", "dbn", "autoencoder", "onnx", "conv1d",
            "batchnorm", "threads"]


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("families", nargs="*", help=f"any of {FAMILIES}")
    p.add_argument("--record", action="store_true", help="append results to RESULTS.md")
    p.add_argument("--quick", action="store_true", help="small workloads (smoke test)")
    args = p.parse_args(argv)
    here = os.path.dirname(os.path.abspath(__file__))
    available = [f for f in FAMILIES if os.path.exists(os.path.join(here, f + ".py"))]
    families = args.families or available
    unknown = [f for f in families if f not in available]
    if unknown:
        p.error(f"unknown or missing benchmark family {unknown}; available: {available}")
    peak = gemm_peak()
    print(f"float32 GEMM peak, 1 thread: {peak:.0f} GFLOP/s", flush=True)
    results = {}
    for fam in families:
        mod = importlib.import_module(f"benchmarks.{fam}")
        print(f"== {fam}", flush=True)
        rows = mod.run(args, peak)
        for r in rows:
            print("  " + fmt_row(r), flush=True)
        results[fam] = rows
    if args.record:
        cmd = "python -m benchmarks " + " ".join(sys.argv[1:] if argv is None else argv)
        record(cmd.strip(), results, peak)


if __name__ == "__main__":
    main()
