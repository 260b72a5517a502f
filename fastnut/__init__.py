"""fastnut: C-accelerated deep-learning estimators for scikit-learn.

Multilayer perceptrons, convolutional and recurrent networks, self-organizing
maps, Boltzmann machines and autoencoders, with scikit-learn's API and hot
loops in compiled Cython kernels.
"""
__version__ = "0.1.0"


def _kernels_error(exc):
    """The message for a failed import of the compiled kernels: what is wrong, and how to proceed."""
    import importlib.machinery
    import os
    import sys

    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)

    def compiled(package_dir):
        kernels = os.path.join(package_dir, "_kernels")
        try:
            return any(f.startswith("_build_info") and f.endswith(suffixes)
                       for f in os.listdir(kernels))
        except OSError:
            return False

    if compiled(here):
        return ("fastnut's compiled kernels in " + os.path.join(here, "_kernels") +
                " do not load in this Python (" + sys.executable + "): they were built for "
                "another Python or platform, or a library they need is missing. Rebuild "
                "them with this Python:\n"
                "    pip install .            (or, inside a clone: pip install -e .)\n"
                f"(original error: {exc})")
    source_tree = (os.path.exists(os.path.join(root, "setup.py"))
                   and os.path.isdir(os.path.join(root, "src_c")))
    others = []
    for entry in sys.path:
        d = os.path.abspath(entry or os.getcwd())
        pkg = os.path.join(d, "fastnut")
        if os.path.abspath(pkg) != here and compiled(pkg) and pkg not in others:
            others.append(pkg)
    if source_tree and others:
        return ("fastnut is being imported from its source tree " + here + ", whose "
                "compiled kernels are missing: Python puts the current folder first on "
                "its path, so this folder shadows the fastnut installed in " + others[0] +
                ". Either\n"
                "    run from any other folder (cd ..), or use the `fastnut` command, or\n"
                "    build the kernels into this clone: pip install -e .   (no recompile "
                "after pip install . in the same clone)\n"
                f"(original error: {exc})")
    if source_tree:
        return ("fastnut's compiled kernels are missing: " + here + " is a source tree "
                "whose kernels were never built. Build them into it with\n"
                "    pip install -e .\n"
                "or, for an in-place development build,\n"
                "    python setup.py build_ext --inplace -j 2\n"
                f"(original error: {exc})")
    return ("fastnut's compiled kernels are missing from " + os.path.join(here, "_kernels") +
            ": this copy of fastnut was installed without its build. Reinstall it from "
            "the source tree with\n"
            "    pip install .            (or, inside a clone: pip install -e .)\n"
            f"(original error: {exc})")


try:
    from ._kernels import _build_info
except ImportError as exc:  # pragma: no cover - only hit on a broken install
    raise ImportError(_kernels_error(exc)) from exc


def openmp_enabled():
    """Tell whether fastnut's kernels were compiled with OpenMP support.

    Returns
    -------
    bool
        ``True`` when the kernels run their parallel loops on several threads.
    """
    return _build_info.openmp_enabled()


from ._persistence import skops_trusted_types  # noqa: E402
# the one exception of training that diverged (a ValueError), for every family
from .nn import DivergenceError  # noqa: E402

# Public estimators, one import line per family (each family adds its own).
from .mlp import MLPClassifier, MLPRegressor  # noqa: E402
from . import callbacks, schedules  # noqa: E402,F401
from .neuralnet import NeuralNetClassifier, NeuralNetRegressor  # noqa: E402
from .som import SelfOrganizingMap  # noqa: E402
from .cnn import CNNClassifier, CNNRegressor  # noqa: E402
from .rnn import RNNClassifier, RNNRegressor  # noqa: E402
from .text import SequenceTokenizer  # noqa: E402
from .sequence_cnn import SequenceCNNClassifier, SequenceCNNRegressor  # noqa: E402
from .rbm import BernoulliRBM, GaussianBernoulliRBM  # noqa: E402
from .dbn import DBNClassifier, DeepBeliefNetwork  # noqa: E402
from .dbm import DeepBoltzmannMachine  # noqa: E402
from .autoencoder import (Autoencoder, ContractiveAutoencoder,  # noqa: E402
                          ConvAutoencoder, DenoisingAutoencoder, LSTMAutoencoder,
                          SparseAutoencoder)

__all__ = [
    "MLPClassifier",
    "MLPRegressor",
    "SelfOrganizingMap",
    "CNNClassifier",
    "CNNRegressor",
    "RNNClassifier",
    "RNNRegressor",
    "SequenceTokenizer",
    "SequenceCNNClassifier",
    "SequenceCNNRegressor",
    "BernoulliRBM",
    "GaussianBernoulliRBM",
    "DeepBeliefNetwork",
    "DBNClassifier",
    "DeepBoltzmannMachine",
    "Autoencoder",
    "SparseAutoencoder",
    "ContractiveAutoencoder",
    "DenoisingAutoencoder",
    "ConvAutoencoder",
    "LSTMAutoencoder",
    "NeuralNetClassifier",
    "NeuralNetRegressor",
    "openmp_enabled",
    "skops_trusted_types",
    "DivergenceError",
]
