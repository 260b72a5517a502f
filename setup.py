"""Build fastnut's Cython kernels.

Every ``src_c/<stem>.pyx`` becomes ``fastnut._kernels.<stem>``.  Shared helpers
live in header-only ``src_c/*.pxd`` files (``cdef inline``), see
``docs/architecture.md``.

The build prints one line per kernel as it starts and ends.  pip hides a build's
output unless run with ``-v``, and a silent two-minute compile looks like a
hang, so when pip holds the output and there is a terminal, these lines go
straight to the terminal.

A second install recompiles nothing whose sources did not change, for example
to add an extra (``pip install -e ".[plot]"`` after ``pip install -e .``).
Cython's C goes to ``build/src_c``; a compiled module is reused when it is up
to date, in the same mode, in ``build/lib*`` (``pip install .``) or in place in
``fastnut/_kernels`` (left there by ``pip install -e .`` or ``build_ext
--inplace``; pip's editable builds compile into a new temporary folder each time,
so the in-place copy is the one that survives).

Environment switches:

``FASTNUT_DEBUG=1``
    Bounds checks, wraparound and initialized checks on, no ``-O3``; the
    generated C goes to ``build-debug/`` so it is never mixed up with the
    release build's C in ``build/``.
``FASTNUT_KERNELS=conv,pool``
    Developer convenience: compile only these kernels (the others keep the
    extension modules already built in place).
``FASTNUT_BUILD_JOBS=N``
    Kernels compiled in parallel (default: the number of CPUs).
"""
import os
import glob
import shutil
import sys
import tempfile
import threading
import time
import subprocess
import sysconfig
import warnings

import numpy as np
from setuptools import setup, Extension
from setuptools.command.build_ext import build_ext
from Cython.Build import cythonize

HERE = os.path.dirname(os.path.abspath(__file__))
DEBUG = os.environ.get("FASTNUT_DEBUG", "0") not in ("", "0")


def _compiler_has_openmp():
    """Try to compile and link a tiny OpenMP program with the build compiler."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    src = "#include <omp.h>\nint main(void){return omp_get_max_threads() > 0 ? 0 : 1;}\n"
    tmp = tempfile.mkdtemp()
    try:
        path = os.path.join(tmp, "probe.c")
        with open(path, "w") as f:
            f.write(src)
        cmd = cc.split() + ["-fopenmp", path, "-o", os.path.join(tmp, "probe")]
        return subprocess.call(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0
    except OSError:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def extensions():
    have_omp = _compiler_has_openmp()
    if not have_omp:
        warnings.warn(
            "fastnut: the C compiler does not support OpenMP; building the "
            "kernels single-threaded (fastnut.openmp_enabled() will be False)."
        )
    # -fno-math-errno lets sqrt vectorise; results are unchanged (IEEE sqrt)
    # the debug build also turns the kernels' C preconditions on (asserts,
    # FASTNUT_DEBUG checks in src_c/conv.pyx and pool.pyx)
    compile_args = (["-O0", "-g", "-UNDEBUG", "-DFASTNUT_DEBUG=1"] if DEBUG
                    else ["-O3", "-fno-math-errno"])
    link_args = []
    if have_omp:
        compile_args.append("-fopenmp")
        link_args.append("-fopenmp")
    only = {s.strip() for s in os.environ.get("FASTNUT_KERNELS", "").split(",") if s.strip()}
    exts = []
    for pyx in sorted(glob.glob(os.path.join("src_c", "*.pyx"))):
        stem = os.path.splitext(os.path.basename(pyx))[0]
        if only and stem not in only:
            continue
        exts.append(Extension(
            f"fastnut._kernels.{stem}",
            [pyx],
            include_dirs=[np.get_include(), "src_c"],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            extra_compile_args=compile_args,
            extra_link_args=link_args,
        ))
    return exts


def _cythonize(exts):
    directives = {
        "language_level": 3,
        "boundscheck": DEBUG,
        "wraparound": DEBUG,
        "initializedcheck": DEBUG,
        "cdivision": True,
        "embedsignature": True,
    }
    return cythonize(
        exts,
        include_path=["src_c"],
        compiler_directives=directives,
        build_dir="build-debug" if DEBUG else "build",
        nthreads=_jobs(),
        quiet=True,
    )


def _jobs():
    return max(1, int(os.environ.get("FASTNUT_BUILD_JOBS", os.cpu_count() or 1)))


class _Progress:
    """One line per build step, on the terminal even when pip holds the output."""

    def __init__(self):
        self.lock = threading.Lock()
        self.first = True
        self.tty = None
        if not sys.stdout.isatty():
            try:
                self.tty = open("/dev/tty", "w")
            except OSError:  # no terminal (CI, a service): stdout it is
                self.tty = None

    def __call__(self, text):
        with self.lock:
            if self.tty is None:
                print(f"fastnut: {text}", flush=True)
                return
            # pip draws a spinner at the end of its "Building wheel" line: start
            # below it the first time, then overwrite the spinner's stray character
            self.tty.write(("\n" if self.first else "\r") + f"  fastnut: {text}\n")
            self.tty.flush()
            self.first = False

    def close(self):
        if self.tty is not None:
            self.tty.close()
            self.tty = None


MODE_FILE = os.path.join(HERE, "fastnut", "_kernels", ".build-mode")


class BuildExt(build_ext):
    def initialize_options(self):
        super().initialize_options()
        # compile the extensions in parallel: a clean build on 2 cores is slow
        self.parallel = _jobs()

    def finalize_options(self):
        # Cython runs here, not when setup.py is imported: pip imports it three
        # times (requirements, metadata, wheel) and only the build needs C
        self.progress = _Progress()
        self._cythonize()
        super().finalize_options()
        try:
            with open(MODE_FILE) as f:
                self._inplace_mode = f.read().strip()
        except OSError:
            self._inplace_mode = None

    def run(self):
        # A switch between the release and the debug build must recompile every
        # extension: both write their objects and modules to the same build/
        # folders, and the modules are newer than the other mode's C sources,
        # so setuptools would otherwise keep the wrong build without a word.
        # The mode is recorded next to the objects it describes.
        mode = "debug" if DEBUG else "release"
        mode_file = os.path.join(self.build_temp, "fastnut-build-mode")
        try:
            with open(mode_file) as f:
                previous = f.read().strip()
        except OSError:
            previous = None
        if os.environ.get("FASTNUT_KERNELS") or (previous is not None and previous != mode):
            # a partial build cannot know which mode the other modules are in,
            # and recompiling the few kernels it names is cheap
            self.force = True
        elif (self.inplace or self.editable_mode) and self._inplace_mode not in (None, mode):
            # the modules in place are of the other mode (or mixed): replace them all
            self.force = True
        elif previous is None and glob.glob(os.path.join(self.build_temp, "**", "*.o"),
                                            recursive=True):
            # objects from a build that predates the mode file: mode unknown
            self.force = True
        try:
            n = len(self.extensions)
            todo = sum(self._needs_build(ext) and not self._reusable(ext)
                       for ext in self.extensions)
            self._done = 0
            self._t0 = time.perf_counter()
            if todo:
                self.progress(f"compiling {todo} of {n} kernels ({mode} build, {self.parallel} "
                              f"at a time; a clean build takes about 2 min on 2 cores)")
            else:
                self.progress(f"all {n} kernels up to date ({mode} build), nothing to compile")
            super().run()
            if todo:
                self.progress(f"kernels built in {time.perf_counter() - self._t0:.0f} s")
        finally:
            self.progress.close()
        os.makedirs(self.build_temp, exist_ok=True)
        with open(mode_file, "w") as f:
            # a partial build in the other mode leaves the folder mixed: the next
            # full build then recompiles everything
            partial = bool(os.environ.get("FASTNUT_KERNELS"))
            f.write((mode if not partial or previous == mode else "mixed") + "\n")
        if self.inplace or self.editable_mode:
            partial = bool(os.environ.get("FASTNUT_KERNELS"))
            with open(MODE_FILE, "w") as f:
                f.write((mode if not partial or self._inplace_mode == mode else "mixed") + "\n")

    def _cythonize(self):
        """Translate the kernels whose C is stale; reuse the C of the others.

        Cython's own check would also compare the C with scipy's
        ``cython_blas.pxd``, which pip installs afresh (newer) into every
        isolated build environment: every install would translate and then
        compile every kernel again.  The C is kept when it is newer than
        fastnut's own sources and was made by the same Cython for the same
        scipy (recorded next to it).
        """
        import Cython
        import scipy

        # finalize_options can run more than once (editable installs): the
        # extensions already holding their C are done
        done = [ext for ext in self.distribution.ext_modules
                if not any(s.endswith(".pyx") for s in ext.sources)]
        exts = [ext for ext in self.distribution.ext_modules if ext not in done]
        build_dir = "build-debug" if DEBUG else "build"
        stamp = os.path.join(build_dir, "src_c", "fastnut-cython-inputs")
        key = f"Cython {Cython.__version__}, scipy {scipy.__version__}, debug={DEBUG}"
        try:
            with open(stamp) as f:
                same_inputs = f.read().strip() == key
        except OSError:
            same_inputs = False
        stale = [ext for ext in exts if not same_inputs or self._c_is_stale(ext)]
        kept = [ext for ext in exts if ext not in stale]
        for ext in kept:
            ext.sources = [self._c_file(ext)]
        t0 = time.perf_counter()
        if stale:
            self.progress(f"Cython: translating {len(stale)} kernel(s) to C "
                          f"({', '.join(_stem(e) for e in stale)})")
            stale = _cythonize(stale)
            self.progress(f"Cython done in {time.perf_counter() - t0:.0f} s")
            os.makedirs(os.path.dirname(stamp), exist_ok=True)
            with open(stamp, "w") as f:
                f.write(key + "\n")
        self.distribution.ext_modules = sorted(done + stale + kept, key=lambda e: e.name)

    @staticmethod
    def _c_file(ext):
        pyx = [s for s in ext.sources if s.endswith(".pyx")][0]
        return os.path.join("build-debug" if DEBUG else "build", os.path.splitext(pyx)[0] + ".c")

    @classmethod
    def _c_is_stale(cls, ext):
        """Whether this extension's C is missing or older than fastnut's sources."""
        pyx = [s for s in ext.sources if s.endswith(".pyx")]
        c = cls._c_file(ext)
        if not os.path.exists(c):
            return True
        deps = pyx + glob.glob(os.path.join("src_c", "*.pxd")) + glob.glob(os.path.join("src_c", "*.h"))
        return max(os.path.getmtime(d) for d in deps) > os.path.getmtime(c)

    def _needs_build(self, ext):
        from setuptools.modified import newer_group

        # setuptools builds into build/ even for --inplace, then copies
        target = os.path.join(self.build_lib, self.get_ext_filename(ext.name))
        return bool(self.force or newer_group(list(ext.sources) + list(ext.depends or []),
                                              target, "newer"))

    def _reusable(self, ext):
        """A module compiled earlier, up to date and of this build's mode: the one
        in place (``pip install -e .``) or the one in ``build/lib*`` (``pip install .``)."""
        from setuptools.modified import newer_group

        if self.force:
            return None
        mode = "debug" if DEBUG else "release"
        name = self.get_ext_filename(ext.name)
        candidates = [(os.path.join(HERE, name), self._inplace_mode)]
        tag = sys.implementation.cache_tag
        for temp in glob.glob(os.path.join(HERE, "build", f"temp.*-{tag}")):
            lib = os.path.join(os.path.dirname(temp), "lib" + os.path.basename(temp)[4:])
            try:
                with open(os.path.join(temp, "fastnut-build-mode")) as f:
                    candidates.append((os.path.join(lib, name), f.read().strip()))
            except OSError:
                pass
        for path, built_as in candidates:
            if built_as == mode and os.path.exists(path) and not newer_group(
                    list(ext.sources) + list(ext.depends or []), path, "newer"):
                return path
        return None

    def build_extension(self, ext):
        if not self._needs_build(ext):
            return super().build_extension(ext)
        cached = self._reusable(ext)
        if cached is not None:
            target = os.path.join(self.build_lib, self.get_ext_filename(ext.name))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy2(cached, target)
            return None
        t0 = time.perf_counter()
        self.progress(f"compiling {_stem(ext)} ...")
        super().build_extension(ext)
        with self.progress.lock:
            self._done += 1
            done = self._done
        self.progress(f"compiled {_stem(ext)} in {time.perf_counter() - t0:.0f} s "
                      f"[{done} done, {time.perf_counter() - self._t0:.0f} s so far]")


def _stem(ext):
    return ext.name.rsplit(".", 1)[-1]


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
