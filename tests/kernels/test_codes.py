"""The codes Python passes to the kernels come from the kernels' ``cpdef enum``s.

Python builds its name -> code tables from the enums (no hand-kept copies); this
pins the values, which the C loops (``_dense_math.h``'s fused activations) test as
literals, and checks that every option a user can name has a kernel code.
"""
from fastnut import SelfOrganizingMap, nn
from fastnut._kernels import dense, rbm, rnn, som
from fastnut.nn._activations import ACTIVATION_CODES
from fastnut.nn._recurrent import _CELL_CODES
from fastnut.som import _DECAYS, _METRICS, _NEIGHBORHOODS


def test_values_the_c_loops_expect():
    assert {c.name: int(c) for c in dense.Activation} == {
        "IDENTITY": 0, "RELU": 1, "TANH": 2, "LOGISTIC": 3}
    assert {c.name: int(c) for c in rnn.Cell} == {"RNN_TANH": 0, "LSTM": 1, "GRU": 2}
    assert {c.name: int(c) for c in som.Metric} == {"EUCLIDEAN": 0, "COSINE": 1, "MANHATTAN": 2}
    assert {c.name: int(c) for c in som.Neighborhood} == {
        "GAUSSIAN": 0, "BUBBLE": 1, "MEXICAN_HAT": 2, "TRIANGLE": 3}
    assert {c.name: int(c) for c in som.Decay} == {"LINEAR": 0, "EXPONENTIAL": 1}
    assert {c.name: int(c) for c in rbm.UnitType} == {
        "BERNOULLI": 0, "GAUSSIAN": 1, "GAUSSIAN_MEAN_FIELD": 2}


def test_python_tables_are_the_enums():
    assert ACTIVATION_CODES == {c.name.lower(): int(c) for c in dense.Activation}
    assert sorted(_CELL_CODES.values()) == sorted(int(c) for c in rnn.Cell)
    assert _METRICS == {c.name.lower(): int(c) for c in som.Metric}
    assert _NEIGHBORHOODS == {c.name.lower(): int(c) for c in som.Neighborhood}
    assert _DECAYS == {c.name.lower(): int(c) for c in som.Decay}


def test_rbm_unit_types_come_from_the_enum():
    from fastnut import BernoulliRBM, GaussianBernoulliRBM
    from fastnut import _boltzmann
    assert BernoulliRBM()._visible_type is rbm.UnitType.BERNOULLI
    assert BernoulliRBM()._chain_visible_type is rbm.UnitType.BERNOULLI
    assert GaussianBernoulliRBM(sample_visible=True)._visible_type is rbm.UnitType.GAUSSIAN
    assert (GaussianBernoulliRBM(sample_visible=False)._visible_type
            is rbm.UnitType.GAUSSIAN_MEAN_FIELD)
    assert GaussianBernoulliRBM()._chain_visible_type is rbm.UnitType.GAUSSIAN
    assert _boltzmann.BERNOULLI is rbm.UnitType.BERNOULLI


def test_a_unit_type_outside_the_enum_is_refused():
    import numpy as np
    import pytest
    A = np.zeros((2, 3), np.float32)
    with pytest.raises(ValueError, match="unit_type must be a UnitType"):
        rbm.layer_conditional(A, np.zeros(3, np.float32), A, unit_type=3, do_sample=False,
                              key=0, stream=0, n_threads=1)


def test_every_option_has_a_kernel_code():
    constraints = SelfOrganizingMap._parameter_constraints
    for param, table in (("metric", _METRICS), ("neighborhood", _NEIGHBORHOODS),
                         ("decay", _DECAYS)):
        assert constraints[param][0].options == set(table)
    for name in ACTIVATION_CODES:
        assert nn.Dense(2, activation=name).activation == name
    for cell in (nn.SimpleRNN, nn.LSTM, nn.GRU):
        assert cell(2)._cell in _CELL_CODES
