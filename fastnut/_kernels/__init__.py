"""Compiled kernels (built from ``src_c/*.pyx`` by ``pip install .``)."""
