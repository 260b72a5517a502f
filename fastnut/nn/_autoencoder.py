"""Old home of the autoencoder parts, kept so that fastnut 0.1.0 pickles load.

Pickles name classes by module: a model saved by 0.1.0 refers to
``fastnut.nn._autoencoder.EncoderDecoder`` and so on.  The classes now live
with their role (``_encoder_decoder``, ``_penalties``, ``_noise``,
``_sequence``, ``_layers``, ``_losses``); import them from ``fastnut.nn``.
To be deleted at 0.2.
"""
from ._encoder_decoder import EncoderDecoder, TiedDense
from ._layers import Reshape
from ._losses import SumSquaredError
from ._noise import Corruption
from ._penalties import ContractiveDense, ContractiveEncoder, SparsityPenalty
from ._sequence import RepeatSteps, TimeDistributedDense

__all__ = ["ContractiveDense", "ContractiveEncoder", "Corruption", "EncoderDecoder",
           "RepeatSteps", "Reshape", "SparsityPenalty", "SumSquaredError", "TiedDense",
           "TimeDistributedDense"]
