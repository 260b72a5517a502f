"""fastnut's network engine: layers, losses, optimizers and the trainer.

See ``fastnut/nn/_base.py`` for the layer contract (``build``, ``forward``,
``backward``, ``params``/``grads``).
"""
from ._base import Layer
from ._layers import Activation, Dense, Flatten, Reshape
from ._noise import Corruption, Dropout
from ._sequential import Sequential
from ._losses import (BinaryLogLoss, Loss, Poisson, SoftmaxCrossEntropy, SquaredError,
                      SumSquaredError, get_loss)
from ._optimizers import SGD, Adam, Optimizer
from ._trainer import DivergenceError, Progress, TrainConfig, Trainer
from ._recurrent import GRU, LSTM, SimpleRNN
from ._sequence import MaskedStepLoss, RepeatSteps, TimeDistributedDense
from ._encoder_decoder import EncoderDecoder, TiedDense
from ._penalties import ContractiveDense, ContractiveEncoder, SparsityPenalty
from ._conv import AvgPool2D, Conv2D, GlobalAvgPool2D, MaxPool2D, Upsample2D
from ._normalization import BatchNorm1D, BatchNorm2D
from ._conv1d import AvgPool1D, Conv1D, GlobalAvgPool1D, GlobalMaxPool1D, MaxPool1D
from ._embedding import Embedding
from ._residual import Residual

__all__ = [
    "Layer", "Dense", "Activation", "Dropout", "Flatten", "Sequential",
    "Loss", "SquaredError", "Poisson", "SoftmaxCrossEntropy", "BinaryLogLoss", "get_loss",
    "Optimizer", "SGD", "Adam", "Trainer", "DivergenceError",
    "SimpleRNN", "LSTM", "GRU",
    "EncoderDecoder", "TiedDense", "ContractiveDense", "ContractiveEncoder", "SparsityPenalty",
    "Corruption",
    "RepeatSteps", "TimeDistributedDense", "Reshape", "SumSquaredError", "MaskedStepLoss",
    "Conv2D", "MaxPool2D", "AvgPool2D", "GlobalAvgPool2D", "Upsample2D",
    "BatchNorm1D", "BatchNorm2D", "Residual", "Embedding",
    "Conv1D", "MaxPool1D", "AvgPool1D", "GlobalAvgPool1D", "GlobalMaxPool1D",
]
