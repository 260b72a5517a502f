"""Residual blocks: finite differences, shapes, projections, use inside Sequential."""
import pickle

import numpy as np
import pytest

from fastnut import nn
from tests._reference.gradcheck import check_layer_gradients


@pytest.mark.parametrize("make,shape", [
    (lambda: nn.Residual([nn.Conv2D(3, 3, padding=1), nn.BatchNorm2D(activation="relu"),
                          nn.Conv2D(3, 3, padding=1)]), (3, 5, 5)),
    (lambda: nn.Residual([nn.Conv2D(4, 3, stride=2, padding=1, activation="relu")],
                         shortcut="projection"), (2, 5, 5)),
    (lambda: nn.Residual([nn.Dense(4, activation="tanh"), nn.Dense(4)]), (4,)),
    (lambda: nn.Residual([nn.Dense(6, activation="tanh")], shortcut="projection"), (4,)),
    (lambda: nn.Residual([nn.Conv1D(5, 3, padding="same", activation="relu"),
                          nn.BatchNorm1D()], shortcut="projection"), (7, 2)),
    (lambda: nn.Residual([nn.Conv1D(3, 3, stride=2, padding="causal")],
                         shortcut="projection"), (7, 3)),
    (lambda: nn.Residual(nn.Conv1D(3, 3, padding="same"),
                         shortcut=nn.Conv1D(3, 1, use_bias=False)), (6, 3)),
])
def test_gradients(make, shape):
    rng = np.random.default_rng(0)
    block = make()
    block.build(shape, random_state=0, dtype=np.float64)
    check_layer_gradients(block, rng.standard_normal((3,) + shape))


def test_gradients_on_padded_sequences():
    rng = np.random.default_rng(1)
    block = nn.Residual([nn.Conv1D(3, 3, padding="same", activation="relu"),
                         nn.Conv1D(3, 3, padding="same")])
    block.build((6, 3), random_state=0, dtype=np.float64)
    X = rng.standard_normal((3, 6, 3))
    X[1, 4:] = np.nan
    check_layer_gradients(block, X, padded=True)
    Y = block.forward(X, training=True)
    assert np.isnan(Y[1, 4:]).all()
    dX = block.backward(np.ones_like(Y))
    np.testing.assert_array_equal(dX[1, 4:], 0)


def test_output_is_branch_plus_shortcut_and_names():
    rng = np.random.default_rng(2)
    block = nn.Residual([nn.Conv2D(8, 3, stride=2, padding=1, activation="relu"),
                         nn.BatchNorm2D(), nn.Conv2D(8, 3, padding=1)], shortcut="projection")
    assert block.build((4, 9, 9), random_state=0, dtype=np.float64) == (8, 5, 5)
    proj = block.shortcut_layer
    assert isinstance(proj, nn.Conv2D) and proj.kernel_size == (1, 1) and proj.stride == (2, 2)
    assert sorted(block.params) == ["body.0.bias", "body.0.weight", "body.1.bias",
                                    "body.1.weight", "body.2.bias", "body.2.weight",
                                    "shortcut.weight"]
    assert sorted(block.buffers) == ["body.1.num_batches_tracked", "body.1.running_mean",
                                     "body.1.running_var"]
    X = rng.standard_normal((2, 4, 9, 9))
    expect = np.array(block.body.forward(X)) + np.array(proj.forward(X))
    np.testing.assert_allclose(block.forward(X), expect, rtol=1e-13)
    identity = nn.Residual([nn.Dense(3)])
    identity.build((3,), random_state=0, dtype=np.float64)
    Xv = rng.standard_normal((4, 3))
    np.testing.assert_allclose(identity.forward(Xv), Xv + Xv @ identity.params["body.0.weight"]
                               + identity.params["body.0.bias"], rtol=1e-13)


def test_small_resnet_trains_inside_sequential_and_pickles():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((64, 1, 8, 8)).astype(np.float32)
    y = (X[:, 0, :4].mean(axis=(1, 2)) > X[:, 0, 4:].mean(axis=(1, 2))).astype(int)
    net = nn.Sequential([
        nn.Conv2D(8, 3, padding=1), nn.BatchNorm2D(activation="relu"),
        nn.Residual([nn.Conv2D(8, 3, padding=1), nn.BatchNorm2D(activation="relu"),
                     nn.Conv2D(8, 3, padding=1), nn.BatchNorm2D()]),
        nn.Activation("relu"),
        nn.Residual([nn.Conv2D(16, 3, stride=2, padding=1), nn.BatchNorm2D(activation="relu"),
                     nn.Conv2D(16, 3, padding=1)], shortcut="projection"),
        nn.GlobalAvgPool2D(), nn.Dense(2)])
    net.build((1, 8, 8), random_state=0)
    net.needs_input_grad = False
    assert "2.body.1.running_mean" in net.buffers and "4.shortcut.weight" in net.params
    config = nn.TrainConfig(learning_rate_init=1e-2, batch_size=16, max_iter=15)
    trainer = nn.Trainer(net, nn.get_loss("log_loss"), config, random_state=0)
    trainer.fit_epochs(X, np.eye(2, dtype=np.float32)[y])
    assert trainer.loss_curve[-1] < 0.5 * trainer.loss_curve[0]
    clone = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(clone.forward(X), net.forward(X))
    assert clone.params["2.body.0.weight"] is clone.layers[2].body.layers[0].params["weight"]


def test_errors():
    with pytest.raises(ValueError, match="shortcut must be None, 'projection' or a"):
        nn.Residual([nn.Dense(3)], shortcut="conv")
    with pytest.raises(ValueError, match="needs a branch that keeps the shape"):
        nn.Residual([nn.Dense(5)]).build((3,))
    with pytest.raises(ValueError, match="cannot project inputs of shape"):
        nn.Residual([nn.Flatten()], shortcut="projection").build((2, 3, 3))
    with pytest.raises(ValueError, match="the shortcut maps"):
        nn.Residual([nn.Dense(5)], shortcut=nn.Dense(4)).build((3,))


def test_a_stack_of_the_new_layers_round_trips_through_pickle_and_skops():
    import fastnut
    net = nn.Sequential([nn.Embedding(20, 4, padding_idx=0),
                         nn.Conv1D(6, 3, padding="same", activation="relu"),
                         nn.BatchNorm1D(activation="relu"),
                         nn.Residual([nn.Conv1D(6, 3, padding="causal")]), nn.MaxPool1D(2),
                         nn.GlobalAvgPool1D(), nn.Dense(2)])
    net.build((8,), random_state=0, dtype=np.float64)
    ids = np.random.default_rng(0).integers(1, 20, (5, 8))
    ids[2, 4:] = 0
    net.forward(ids, training=True)
    expect = np.array(net.forward(ids))
    clones = [pickle.loads(pickle.dumps(net))]
    try:
        import skops.io as sio
    except ImportError:  # pragma: no cover
        sio = None
    if sio is not None:
        clones.append(sio.loads(sio.dumps(net), trusted=fastnut.skops_trusted_types()))
    for clone in clones:
        np.testing.assert_array_equal(clone.forward(ids), expect)
        for k, v in net.buffers.items():
            np.testing.assert_array_equal(clone.buffers[k], v)


def test_clear_forward_state_reaches_every_new_layer():
    net = nn.Sequential([nn.Embedding(9, 3), nn.Conv1D(4, 3, padding="same"),
                         nn.BatchNorm1D(), nn.Residual([nn.Conv1D(4, 1)]), nn.AvgPool1D(2),
                         nn.GlobalMaxPool1D(), nn.Dense(2)])
    net.build((6,), random_state=0, dtype=np.float64)
    net.forward(np.arange(12).reshape(2, 6) % 9, training=True)
    assert hasattr(net.layers[1], "_ctx") and hasattr(net.layers[3], "_pad")
    net.clear_forward_state()
    leaves = net.layers + net.layers[3].body.layers
    assert not any(hasattr(layer, name) for layer in leaves for name in ("_ctx", "_pad"))
