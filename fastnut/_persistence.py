"""Safe persistence: the types a fitted fastnut model is made of, for skops.

``skops.io.load(path, trusted=fastnut.skops_trusted_types())`` loads any fitted
fastnut estimator without trusting arbitrary code: the list names fastnut's
own classes (estimators, layers, losses, optimizers, the trainer) and the few
NumPy types their state holds.
"""
import inspect
import sys

_NUMPY_TYPES = [
    "numpy.dtype",
    "numpy.random._generator.Generator",
    "numpy.random._pcg64.PCG64",
    "numpy.random.mtrand.RandomState",
]


def skops_trusted_types():
    """List the fully qualified names of the types a fitted fastnut model may contain.

    Returns
    -------
    list of str
        Sorted names, for ``skops.io.load(..., trusted=skops_trusted_types())``.
    """
    names = set(_NUMPY_TYPES)
    for modname, mod in list(sys.modules.items()):
        if mod is None or not (modname == "fastnut" or modname.startswith("fastnut.")):
            continue
        for _, obj in inspect.getmembers(mod, inspect.isclass):
            if obj.__module__ == modname:
                names.add(f"{modname}.{obj.__qualname__}")
    return sorted(names)
