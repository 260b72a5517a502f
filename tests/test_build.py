"""The build announces itself: compiled kernels, OpenMP, thread-count resolution."""
import os
import subprocess
import sys

import pytest
from threadpoolctl import threadpool_limits

import fastnut
from fastnut._threads import n_threads


def test_kernels_are_compiled_with_openmp():
    # gcc on every supported machine has OpenMP; a serial build here means the
    # probe in setup.py failed and every kernel lost its threads
    assert fastnut.openmp_enabled()


def test_thread_count_honours_threadpoolctl_and_omp_num_threads():
    with threadpool_limits(limits=1):
        assert n_threads() == 1
    assert n_threads(1) == 1
    assert 1 <= n_threads() <= (os.cpu_count() or 1)
    with pytest.raises(ValueError, match="n_jobs must be a positive int"):
        n_threads(0)
    code = "from fastnut._threads import n_threads; print(n_threads())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "OMP_NUM_THREADS": "1"}, check=True)
    assert out.stdout.strip() == "1"


def test_missing_build_says_how_to_build(tmp_path):
    """Importing a source tree whose kernels were never compiled explains the fix."""
    import shutil
    src = os.path.dirname(fastnut.__file__)
    dst = tmp_path / "fastnut"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    out = subprocess.run([sys.executable, "-c", "import fastnut"], capture_output=True,
                         text=True, cwd=tmp_path)
    assert out.returncode != 0
    assert "pip install -e ." in out.stderr
    assert "compiled kernels are missing" in out.stderr


def _source_tree(root):
    """A clone's root without a build: setup.py, src_c/ and fastnut/ minus the kernels."""
    import shutil
    src = os.path.dirname(fastnut.__file__)
    shutil.copytree(src, root / "fastnut",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    (root / "src_c").mkdir()
    (root / "setup.py").write_text("")
    return root


def test_source_tree_shadowing_an_installed_build_says_so(tmp_path):
    """`python -m fastnut` in a clone's root after `pip install .`: the clone's
    uncompiled fastnut/ comes first on the path and hides the installed one."""
    root = _source_tree(tmp_path / "clone")
    installed = os.path.dirname(os.path.dirname(fastnut.__file__))
    env = {**os.environ, "PYTHONPATH": installed}
    out = subprocess.run([sys.executable, "-m", "fastnut", "--help"], capture_output=True,
                         text=True, cwd=root, env=env)
    assert out.returncode != 0
    msg = " ".join(out.stderr.split())
    assert f"imported from its source tree {root / 'fastnut'}" in msg
    assert f"shadows the fastnut installed in {os.path.join(installed, 'fastnut')}" in msg
    assert "run from any other folder (cd ..), or use the `fastnut` command" in msg
    assert "pip install -e ." in msg
    assert "another Python" not in msg
    # from any other folder the installed build is the one imported, and works
    out = subprocess.run([sys.executable, "-m", "fastnut", "--help"], capture_output=True,
                         text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: fastnut [demo] [FAMILY ...]")


def test_unbuilt_source_tree_says_how_to_build(tmp_path):
    root = _source_tree(tmp_path / "clone")
    out = subprocess.run([sys.executable, "-c", "import fastnut"], capture_output=True,
                         text=True, cwd=root, env={**os.environ, "PYTHONPATH": ""})
    assert out.returncode != 0
    msg = " ".join(out.stderr.split())
    assert f"{root / 'fastnut'} is a source tree whose kernels were never built" in msg
    assert "pip install -e ." in msg
    assert "python setup.py build_ext --inplace" in msg
