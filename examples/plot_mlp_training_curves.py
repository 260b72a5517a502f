"""
=========================================
MLP on the digits: training curves
=========================================

:class:`fastnut.MLPClassifier` is a drop-in for scikit-learn's
:class:`~sklearn.neural_network.MLPClassifier`: the same parameters, the same
``loss_curve_`` and ``validation_scores_``. This example trains it on the 8x8
digits with three solvers and draws the training curves, then shows how early
stopping picks the epoch to stop at from a held-out validation split.
"""

# %%
# Data: 1,797 digit images as rows of 64 pixels, scaled to [0, 1]
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from fastnut import MLPClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X / 16, y, test_size=0.3, stratify=y, random_state=0
)

# %%
# Adam, SGD with Nesterov momentum, plain SGD
# -------------------------------------------
# ``loss_curve_`` holds the mean training loss of every epoch. The curves stop
# at 60 epochs on purpose, before the solvers converge: silence the warning.
warnings.filterwarnings("ignore", category=ConvergenceWarning)
solvers = {
    "adam": dict(solver="adam", learning_rate_init=1e-3),
    "sgd + nesterov": dict(
        solver="sgd", learning_rate_init=0.05, momentum=0.9
    ),
    "sgd": dict(solver="sgd", learning_rate_init=0.05, momentum=0.0),
}
fig, ax = plt.subplots(figsize=(6, 4))
for name, params in solvers.items():
    clf = MLPClassifier(
        hidden_layer_sizes=(64,), max_iter=60, random_state=0, **params
    )
    clf.fit(X_train, y_train)
    ax.plot(
        clf.loss_curve_,
        label=f"{name}: test accuracy {clf.score(X_test, y_test):.3f}",
    )
ax.set(
    xlabel="epoch",
    ylabel="training loss",
    yscale="log",
    title="MLPClassifier(hidden_layer_sizes=(64,)) on the digits",
)
ax.legend()
fig.tight_layout()

# %%
# Early stopping
# --------------
# With ``early_stopping=True`` a stratified ``validation_fraction`` of the
# training rows is held out; training stops when the validation accuracy has
# not improved by ``tol`` for ``n_iter_no_change`` epochs, and the weights of
# the best epoch are kept.
clf = MLPClassifier(
    hidden_layer_sizes=(64,),
    max_iter=300,
    early_stopping=True,
    validation_fraction=0.2,
    n_iter_no_change=10,
    random_state=0,
)
clf.fit(X_train, y_train)
best = int(np.argmax(clf.validation_scores_))

fig, ax1 = plt.subplots(figsize=(6, 4))
ax1.plot(clf.loss_curve_, color="C0")
ax1.set(xlabel="epoch", ylabel="training loss")
ax1.yaxis.label.set_color("C0")
ax2 = ax1.twinx()
ax2.plot(clf.validation_scores_, color="C1")
ax2.axvline(best, color="0.5", ls="--")
ax2.set_ylabel("validation accuracy")
ax2.yaxis.label.set_color("C1")
ax1.set_title(f"stopped after {clf.n_iter_} epochs, best at epoch {best}")
fig.tight_layout()
print(
    f"test accuracy {clf.score(X_test, y_test):.3f} after {clf.n_iter_} epochs"
)

# %%
# The first layer's weights
# -------------------------
# ``coefs_[0]`` has one column of 64 weights per hidden unit, drawn here as
# 8x8 images: each unit looks for a pattern of strokes.
fig, axes = plt.subplots(4, 8, figsize=(8, 4))
for k, ax in enumerate(axes.ravel()):
    w = clf.coefs_[0][:, k].reshape(8, 8)
    ax.imshow(w, cmap="RdBu_r", vmin=-abs(w).max(), vmax=abs(w).max())
    ax.set_axis_off()
fig.suptitle("first-layer weights of 32 hidden units")
plt.show()
