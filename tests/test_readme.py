"""Every fenced ```python block of README.md runs, verbatim, so the README cannot drift.

Each block runs in its own Python process, from an empty temporary folder,
with the fastnut this test session imports and a time limit.  A block runs
with the runtime dependencies only: the modules of an optional extra
(``matplotlib`` for ``plot``, ...) cannot be imported unless the block names
the extra's install command (``pip install -e ".[plot]"``) in its text, the
way a reader is told to install it.  A block preceded by the line
``<!-- skip-test -->`` is not run; keep that for blocks that cannot run on
one machine, and say why next to the marker.

Running the blocks takes minutes (the quick starts train models), so that
test is ``slow``; the cheap checks (every block parses) run in the default
suite.
"""
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
SKIP_MARK = "<!-- skip-test -->"
TIMEOUT = 900  # seconds per block, generous for a loaded 2-core machine


def _blocks():
    """(first code line number, heading, code, skipped) of every ```python block."""
    lines = README.read_text(encoding="utf-8").splitlines()
    out, heading, i = [], "top", 0
    while i < len(lines):
        line = lines[i]
        fence = line.strip().startswith("```")
        if line.startswith("#") and not fence:
            heading = line.lstrip("#").strip()
        if fence:
            prev = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            start = end = i + 1
            while end < len(lines) and not lines[end].strip().startswith("```"):
                end += 1
            if end == len(lines):
                raise AssertionError(f"README.md:{i + 1}: a ``` block is never closed")
            if line.strip() == "```python":
                code = textwrap.dedent("\n".join(lines[start:end]))
                out.append((start + 1, heading, code, prev == SKIP_MARK))
            i = end  # past the closing fence: nothing inside a block is a heading
        i += 1
    return out


def _slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40]


BLOCKS = _blocks()
IDS = [f"L{line}-{_slug(heading)}" for line, heading, _, _ in BLOCKS]


def _extras():
    """{extra: [distribution names]} from pyproject.toml, minus the runtime dependencies."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        tomllib = pytest.importorskip("tomli")
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]

    def name(req):
        return re.split(r"[\s<>=!~;\[]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")

    runtime = {name(r) for r in meta.get("dependencies", [])}
    return {extra: sorted({name(r) for r in reqs} - runtime)
            for extra, reqs in meta.get("optional-dependencies", {}).items()}


def _modules_of(distributions):
    """Top-level module names installed by these distributions."""
    from importlib.metadata import packages_distributions

    wanted = {d.lower().replace("_", "-") for d in distributions}
    return sorted(mod for mod, dists in packages_distributions().items()
                  if any(d.lower().replace("_", "-") in wanted for d in dists))


RUNNER = r'''
import sys
blocked = set(sys.argv[2].split(",")) - {""}

class _Undeclared:
    """The modules of extras the block does not name stay out of reach."""
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in blocked:
            raise ModuleNotFoundError(
                f"No module named {name!r}: this README block uses an optional extra "
                "without saying so; name its install command in the block "
                "(for example  # needs: pip install -e \".[plot]\")", name=name)
        return None

sys.meta_path.insert(0, _Undeclared())
path = sys.argv[1]
with open(path, encoding="utf-8") as f:
    code = compile(f.read(), "README.md", "exec")
exec(code, {"__name__": "__main__"})
'''


@pytest.mark.parametrize("line, heading, code, skipped", BLOCKS, ids=IDS)
def test_readme_block_parses(line, heading, code, skipped):
    compile("\n" * (line - 1) + code, "README.md", "exec")


def test_readme_has_the_quick_starts():
    headings = {heading for _, heading, _, _ in BLOCKS}
    # one runnable block per family at least, and the network engine's
    for expected in ("Multilayer perceptron: a drop-in for scikit-learn's",
                     "Convolutional networks", "Recurrent networks", "Self-organizing map",
                     "Autoencoders", "The network engine"):
        assert expected in headings, f"README.md lost its {expected!r} block"


@pytest.mark.slow
@pytest.mark.parametrize("line, heading, code, skipped", BLOCKS, ids=IDS)
def test_readme_block_runs(line, heading, code, skipped, tmp_path):
    if skipped:
        pytest.skip(f"README.md:{line} is marked {SKIP_MARK}")
    import fastnut

    extras = _extras()
    declared = {e for e in extras
                if re.search(r"(\.|fastnut)\[[^\]]*\b%s\b[^\]]*\]" % re.escape(e), code)}
    for extra in sorted(declared):
        missing = [m for m in extras[extra] if not _modules_of([m])]
        if missing:
            pytest.skip(f"README.md:{line} needs the {extra!r} extra ({', '.join(missing)} "
                        "not installed here)")
    blocked = set()
    for extra, dists in extras.items():
        if extra not in declared:
            blocked.update(_modules_of(dists))
    for extra in declared:  # what a declared extra brings is allowed even if another lists it
        blocked.difference_update(_modules_of(extras[extra]))
    blocked.discard("fastnut")

    script = tmp_path / "readme_block.py"
    script.write_text("\n" * (line - 1) + code + "\n", encoding="utf-8")
    env = dict(os.environ, MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join(
                   [str(Path(fastnut.__file__).resolve().parent.parent)]
                   + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    proc = subprocess.run([sys.executable, "-c", RUNNER, str(script), ",".join(sorted(blocked))],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, (
        f"README.md:{line} (section {heading!r}) failed:\n{proc.stderr[-4000:]}")
