#!/usr/bin/env bash
# A/B timing of the MLP fit (the issue-2 workload, one thread) between two
# built checkouts, alternating runs so that the machine's drifting load hits
# both alike.  A few-percent kernel change is invisible in single runs here.
#
#   git worktree add /tmp/base main && (cd /tmp/base && python setup.py build_ext --inplace)
#   bash tools/ab_fit.sh /tmp/base /work/main 5
#
# Prints each pair of best-of-3 one-epoch fit times (s) and the mean ratio B/A.
set -euo pipefail
A=$1; B=$2; N=${3:-5}
SCRIPT=$(mktemp --suffix=.py)
trap 'rm -f "$SCRIPT"' EXIT
cat > "$SCRIPT" <<'PY'
import time, warnings
import numpy as np
from threadpoolctl import threadpool_limits
from fastnut import MLPClassifier
rng = np.random.default_rng(0)
centers = rng.standard_normal((10, 784)).astype(np.float32)
y = rng.integers(0, 10, 20000)
X = centers[y] + 2.0 * rng.standard_normal((20000, 784)).astype(np.float32)
kw = dict(hidden_layer_sizes=(256, 128), batch_size=128, random_state=0, tol=0,
          n_iter_no_change=10 ** 9)
with threadpool_limits(1), warnings.catch_warnings():
    warnings.simplefilter("ignore")
    MLPClassifier(max_iter=1, **kw).fit(X[:3000], y[:3000])
    best = min(_time for _time in (
        (lambda t0: (MLPClassifier(max_iter=1, **kw).fit(X, y), time.perf_counter() - t0)[1])(
            time.perf_counter()) for _ in range(3)))
print(f"{best:.4f}")
PY
for _ in $(seq "$N"); do
  a=$(cd /tmp && PYTHONPATH="$A" python "$SCRIPT")
  b=$(cd /tmp && PYTHONPATH="$B" python "$SCRIPT")
  echo "$a $b"
done | awk '{print; sa += $1; sb += $2} END {printf "mean A %.4f  B %.4f  B/A %.3f\n", sa/NR, sb/NR, sb/sa}'
