"""Build fastnut's Cython kernels.

Every ``src_c/<stem>.pyx`` becomes ``fastnut._kernels.<stem>``.  Shared helpers
live in header-only ``src_c/*.pxd`` files (``cdef inline``), see DESIGN.md §4.

Environment switches:

``FASTNUT_DEBUG=1``
    Bounds checks, wraparound and initialized checks on, no ``-O3``; the
    generated C goes to ``build-debug/`` so it is never mixed up with the
    release build's C in ``build/``.
``FASTNUT_KERNELS=conv,pool``
    Developer convenience: compile only these kernels (the others keep the
    extension modules already built in place).
"""
import os
import glob
import shutil
import tempfile
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
        nthreads=int(os.environ.get("FASTNUT_BUILD_JOBS", os.cpu_count() or 1)),
        quiet=True,
    )


MODE_FILE = os.path.join(HERE, "fastnut", "_kernels", ".build-mode")


class BuildExt(build_ext):
    def initialize_options(self):
        super().initialize_options()
        # compile the extensions in parallel: a clean build on 2 cores is slow
        self.parallel = int(os.environ.get("FASTNUT_BUILD_JOBS", os.cpu_count() or 1))

    def run(self):
        # A switch between the release and the debug build must recompile every
        # extension: the .so files are newer than the other mode's C sources, so
        # setuptools would otherwise keep the wrong build without a word.
        mode = "debug" if DEBUG else "release"
        try:
            with open(MODE_FILE) as f:
                previous = f.read().strip()
        except OSError:
            previous = None
        if previous != mode or os.environ.get("FASTNUT_KERNELS"):
            # a partial build cannot know which mode the other modules are in,
            # and recompiling the few kernels it names is cheap
            self.force = True
        super().run()
        if self.inplace and not os.environ.get("FASTNUT_KERNELS"):
            with open(MODE_FILE, "w") as f:
                f.write(mode + "\n")


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
