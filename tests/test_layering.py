"""The import layering of the package, read from the source (AST), not by importing it.

fastnut has three layers and calls run one way (docs/architecture.md):

    estimators (fastnut/*.py)  ->  engine (fastnut.nn)  ->  kernels (fastnut._kernels)

* **kernels** (``src_c/*.pyx`` compiled to ``fastnut._kernels.<stem>``) import no
  fastnut Python module.
* **infrastructure** (``fastnut._threads``: the thread and BLAS policy) serves every
  layer and imports only the build sentinel ``fastnut._kernels._build_info``.
* **engine** (``fastnut.nn`` and its modules) imports only the engine, the kernels and
  the infrastructure: never an estimator module nor an estimator-layer helper
  (``_network``, ``_validation``, ``_state``, ...).
* **estimators** (every other module under ``fastnut/``, public or private: the
  estimator modules, their shared helpers such as ``_network`` and ``_validation``,
  ``callbacks`` and ``schedules``) import the engine, the infrastructure and each
  other, never a front module; they reach a kernel only through ``fastnut.nn``,
  except the families listed in ``DIRECT_KERNELS``, whose drivers call their kernels
  directly (DESIGN: the SOM and Boltzmann estimators).
* **front** modules (the package ``__init__``, ``__main__``, ``onnx``, ``plotting``)
  sit on top and may import anything.
* No module imports another estimator module's private names (a name starting with
  ``_`` from ``fastnut/<name>.py``), and no estimator-layer module imports a private
  name of the engine: what one family shares with another lives in a private helper
  module (``_network``, ``_validation``, ``_threads``, ...) or in ``fastnut.nn``.
  Shims that keep old pickles loading (``SHIMS``) are exempt.

``KNOWN_EXCEPTIONS`` lists today's violations, each with the reason; an exception
that no longer occurs fails the test, so the list only shrinks.
"""
import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "fastnut"
KERNEL_SOURCES = ROOT / "src_c"

FRONT = {"fastnut", "fastnut.__main__", "fastnut.onnx", "fastnut.plotting"}
INFRASTRUCTURE = {"fastnut._threads"}
BUILD_SENTINEL = "fastnut._kernels._build_info"

#: estimator-layer modules that call kernels directly: module -> kernel stems
DIRECT_KERNELS = {
    "fastnut.som": {"som"},
    "fastnut.rbm": {"rbm"},
    "fastnut.dbn": {"rbm"},
    # the Boltzmann drivers (epoch loops, pre-training, mean field, sampler)
    "fastnut._boltzmann": {"rbm", "boltzmann"},
}

#: modules kept only so that old pickles load; they re-export moved names
SHIMS = {"fastnut.nn._autoencoder"}

#: (importer, imported module, name or None) -> reason
KNOWN_EXCEPTIONS = {}  # none today (the DBN imports of RBM privates went with fastnut/_boltzmann.py)


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _python_modules():
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


MODULES = _python_modules()
KERNELS = {f"fastnut._kernels.{p.stem}" for p in KERNEL_SOURCES.glob("*.pyx")}
ALL_MODULES = set(MODULES) | KERNELS


def layer(module):
    if module in FRONT:
        return "front"
    if module in INFRASTRUCTURE:
        return "infrastructure"
    if module == "fastnut._kernels" or module.startswith("fastnut._kernels."):
        return "kernels"
    if module == "fastnut.nn" or module.startswith("fastnut.nn."):
        return "engine"
    return "estimators"


def _is_estimator_module(module):
    """A module of the scikit-learn surface, ``fastnut/<name>.py`` with a public name."""
    parts = module.split(".")
    return (len(parts) == 2 and not parts[1].startswith("_")
            and layer(module) == "estimators")


def imports(module, path):
    """``(line, imported module, imported name or None)`` for every fastnut import,
    at any depth (imports inside functions count)."""
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, None) for a in node.names
                    if a.name.split(".")[0] == "fastnut"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            if target.split(".")[0] != "fastnut":
                continue
            for a in node.names:
                sub = f"{target}.{a.name}"
                if sub in ALL_MODULES:          # `from fastnut import nn`: a module
                    out.append((node.lineno, sub, None))
                else:
                    out.append((node.lineno, target, a.name))
    return out


def _shown(path):
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def _violations():
    found = {}
    for module, path in MODULES.items():
        src = layer(module)
        for line, target, name in imports(module, path):
            dst = layer(target)
            where = f"{_shown(path)}:{line}"
            rule = None
            if target == BUILD_SENTINEL:
                pass
            elif src == "kernels":
                rule = "the kernels package imports no fastnut module"
            elif src == "infrastructure" and dst != "infrastructure":
                rule = "infrastructure imports only the build sentinel"
            elif src == "engine" and dst not in ("engine", "kernels", "infrastructure"):
                rule = f"the engine imports a module of the {dst} layer"
            elif src == "estimators":
                if dst == "front":
                    rule = "an estimator-layer module imports a front module"
                elif dst == "kernels" and target.rpartition(".")[2] not in \
                        DIRECT_KERNELS.get(module, ()) and target != "fastnut._kernels":
                    rule = "an estimator-layer module calls a kernel not listed in DIRECT_KERNELS"
                elif dst == "kernels" and target == "fastnut._kernels":
                    rule = "an estimator-layer module imports from the kernels package itself"
            if rule is None and name is not None and name.startswith("_") \
                    and module not in SHIMS and target != module:
                if _is_estimator_module(target):
                    rule = "imports a private name of another estimator module"
                elif src == "estimators" and dst == "engine":
                    rule = "an estimator-layer module imports a private name of the engine"
            if rule is not None:
                found[(module, target, name)] = f"{where}: {rule}"
    return found


def test_every_module_is_read():
    assert "fastnut.nn._base" in MODULES and "fastnut.mlp" in MODULES
    assert "fastnut._kernels.dense" in KERNELS


@pytest.mark.parametrize("module, target, expected", [
    ("fastnut.nn._layers", "fastnut.mlp", "engine imports a module of the estimators layer"),
    ("fastnut.nn._layers", "fastnut._validation", "engine imports a module of the estimators"),
    ("fastnut.mlp", "fastnut._kernels.dense", "not listed in DIRECT_KERNELS"),
    ("fastnut._network", "fastnut.plotting", "imports a front module"),
])
def test_the_rules_catch_a_violation(module, target, expected, tmp_path, monkeypatch):
    """The checker itself: a forbidden import planted in a copy of a module is reported."""
    path = tmp_path / "mod.py"
    path.write_text(MODULES[module].read_text() + f"\nimport {target}\n")
    monkeypatch.setitem(MODULES, module, path)
    found = _violations()
    assert any(expected in v for k, v in found.items() if k[:2] == (module, target)), found


def test_imports_follow_the_layers():
    found = _violations()
    new = {k: v for k, v in found.items() if k not in KNOWN_EXCEPTIONS}
    assert not new, "layering violations:\n" + "\n".join(sorted(new.values()))


def test_known_exceptions_still_occur():
    """An exception that was fixed must leave KNOWN_EXCEPTIONS."""
    gone = set(KNOWN_EXCEPTIONS) - set(_violations())
    assert not gone, f"fixed, remove from KNOWN_EXCEPTIONS: {sorted(gone)}"


def test_kernels_import_no_fastnut_python_module():
    pattern = re.compile(r"^\s*(from|import)\s+fastnut\b", re.M)
    offenders = [p.name for p in sorted(KERNEL_SOURCES.glob("*.p[yx]*")) if pattern.search(
        p.read_text())]
    assert not offenders
