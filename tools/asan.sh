#!/usr/bin/env bash
# AddressSanitizer run: build fastnut's kernels with -fsanitize=address in a
# copy of the source tree (the in-place build is left alone) and run the
# kernel and layer tests plus the fuzz test under it.  Any out-of-bounds
# access, use after free or double free in a kernel aborts the run with
# ASan's report.
#
#   tools/asan.sh                 # from the repository root, in the dev venv
#   ASAN_DIR=/tmp/x tools/asan.sh # keep the build there (reused on the next run)
#   tools/asan.sh tests/nn -x     # other pytest arguments
#
# The kernels are compiled as the FASTNUT_DEBUG=1 build (-O0, Cython bounds
# checks and the kernels' C asserts on) plus ASan: both nets at once, and a
# compile several times faster than -O3 with ASan.  ASAN_OPTIMIZED=1 keeps
# the release flags (-O3, bounds checks off) instead, the code users run.
#
# Python itself is not instrumented, so libasan is preloaded into the test
# process; leak detection is off (CPython keeps its arenas until exit).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python}
CC=${CC:-gcc}
DIR=${ASAN_DIR:-$(mktemp -d)/fastnut-asan}
LIBASAN=$("$CC" -print-file-name=libasan.so)
if [ ! -e "$LIBASAN" ]; then
    echo "asan.sh: $CC has no libasan.so (install libasan / gcc's sanitizer runtime)" >&2
    exit 2
fi
start=$(date +%s)

echo "== asan: copying the source tree to $DIR"
mkdir -p "$DIR"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard -- \
    setup.py pyproject.toml src_c fastnut tests \
    | xargs -0 cp -p --parents -t "$DIR")

debug=1
[ "${ASAN_OPTIMIZED:-0}" = 1 ] && debug=0
echo "== asan: building the kernels with -fsanitize=address (FASTNUT_DEBUG=$debug)"
log="$DIR/build.log"
if ! (cd "$DIR" && CC="$CC" CFLAGS="-fsanitize=address -fno-omit-frame-pointer -g" \
      LDFLAGS="-fsanitize=address" FASTNUT_DEBUG=$debug \
      "$PY" setup.py build_ext --inplace >"$log" 2>&1); then
    grep -v "performance hint" "$log" | tail -40
    exit 1
fi
for so in "$DIR"/fastnut/_kernels/*.so; do
    if ! nm -D "$so" | grep __asan_init >/dev/null; then  # (no -q: SIGPIPE under pipefail)
        echo "asan.sh: $so is not instrumented" >&2
        exit 1
    fi
done
echo "   built in $(( $(date +%s) - start )) s"

if [ $# -eq 0 ]; then
    set -- tests/kernels tests/nn tests/test_fuzz.py -q
fi
echo "== asan: pytest $*"
cd "$DIR"
LD_PRELOAD="$LIBASAN" \
ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:detect_stack_use_after_return=0:allocator_may_return_null=1" \
FASTNUT_ASAN=1 "$PY" -m pytest -p no:cacheprovider "$@"
echo "== asan: clean, in $(( $(date +%s) - start )) s"
