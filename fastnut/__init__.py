"""fastnut: C-accelerated deep-learning estimators for scikit-learn.

Multilayer perceptrons, convolutional and recurrent networks, self-organizing
maps, Boltzmann machines and autoencoders, with scikit-learn's API and hot
loops in compiled Cython kernels.
"""
__version__ = "0.1.0"

try:
    from ._kernels import _build_info
except ImportError as exc:  # pragma: no cover - only hit on a broken install
    raise ImportError(
        "fastnut's compiled kernels are missing or were built for another "
        "Python. Build them from the source tree with\n"
        "    pip install -e .            (or: pip install -e . --no-build-isolation)\n"
        "or, for an in-place development build,\n"
        "    python setup.py build_ext --inplace\n"
        f"(original error: {exc})"
    ) from exc


def openmp_enabled():
    """Whether fastnut's kernels were compiled with OpenMP support."""
    return _build_info.openmp_enabled()


from ._persistence import skops_trusted_types  # noqa: E402
# the one exception of training that diverged (a ValueError), for every family
from .nn import DivergenceError  # noqa: E402

# Public estimators, one import line per family (each family adds its own).
from .mlp import MLPClassifier, MLPRegressor  # noqa: E402
from .som import SelfOrganizingMap  # noqa: E402
from .cnn import CNNClassifier, CNNRegressor  # noqa: E402
from .rnn import RNNClassifier, RNNRegressor  # noqa: E402
from .rbm import BernoulliRBM, GaussianBernoulliRBM  # noqa: E402
from .dbn import DBNClassifier, DeepBeliefNetwork, DeepBoltzmannMachine  # noqa: E402
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
    "openmp_enabled",
    "skops_trusted_types",
    "DivergenceError",
]
