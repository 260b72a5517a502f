"""Run scikit-learn's own MLP and RBM tests against fastnut (only the import swapped).

Copies ``sklearn/neural_network/tests/test_mlp.py`` and ``test_rbm.py`` from
the installed scikit-learn to a temporary directory, replaces
``from sklearn.neural_network import ...`` by ``from fastnut import ...``,
runs them with pytest and prints the pass counts per file::

    python tools/sklearn_tests.py            # counts and the failing tests
    python tools/sklearn_tests.py -v         # pytest's full report too
    python tools/sklearn_tests.py --keep     # keep the temporary copies

The copies never enter the repository (scikit-learn's tests are scikit-learn's).
"""
import argparse
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

import sklearn

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the fastnut of this source tree

FILES = ("test_mlp.py", "test_rbm.py")
_IMPORT = re.compile(r"^from sklearn\.neural_network import (.+)$", re.M)


def copy_swapped(dest):
    src = pathlib.Path(sklearn.__file__).parent / "neural_network" / "tests"
    # scikit-learn's conftest provides this fixture (its default seed is 42)
    (pathlib.Path(dest) / "conftest.py").write_text(
        "import pytest\n\n\n@pytest.fixture\ndef global_random_seed():\n    return 42\n")
    paths = []
    for name in FILES:
        text = (src / name).read_text()
        swapped, n = _IMPORT.subn(r"from fastnut import \1", text)
        if n != 1:
            raise SystemExit(f"{name}: expected one scikit-learn import line, found {n}")
        path = pathlib.Path(dest) / name
        path.write_text(swapped)
        paths.append(path)
    return paths


def run(path, verbose):
    cmd = [sys.executable, "-m", "pytest", str(path), "-q", "-p", "no:cacheprovider",
           "-rf", "--tb=line" if not verbose else "--tb=short", "-W", "ignore"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=path.parent, env=env)
    out = proc.stdout
    summary = out.strip().splitlines()[-1] if out.strip() else proc.stderr[-500:]
    counts = {k: int(v) for v, k in re.findall(r"(\d+) (passed|failed|error|errors|skipped)",
                                               summary)}
    failed = re.findall(r"^FAILED (\S+)", out, re.M)
    return counts, failed, out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    print(f"scikit-learn {sklearn.__version__} tests against fastnut "
          f"({os.path.dirname(__import__('fastnut').__file__)})")
    tmp = tempfile.mkdtemp(prefix="fastnut-sklearn-tests-")
    try:
        for path in copy_swapped(tmp):
            counts, failed, out = run(path, args.verbose)
            passed = counts.get("passed", 0)
            total = passed + counts.get("failed", 0) + counts.get("error", 0) + counts.get(
                "errors", 0)
            pct = 100.0 * passed / total if total else 0.0
            print(f"{path.name}: {passed}/{total} passed ({pct:.1f}%)"
                  + (f", {counts['skipped']} skipped" if counts.get("skipped") else ""))
            for name in failed:
                print(f"    FAILED {name.split('::', 1)[-1]}")
            if args.verbose:
                print(out)
    finally:
        if args.keep:
            print(f"copies kept in {tmp}")
        else:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
