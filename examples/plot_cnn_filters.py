"""
=======================================
CNN on the digits: filters and features
=======================================

:class:`fastnut.CNNClassifier` stacks convolution blocks (``conv_layers``),
pooling and a dense head. Here it learns the 8x8 digits from flat rows (the
form a :class:`~sklearn.pipeline.Pipeline` passes on, folded back into images
by ``input_shape``), and we look at what its first convolution learned: the
filters, and the feature maps they produce on one digit.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import ConfusionMatrixDisplay
from sklearn.model_selection import train_test_split

from fastnut import CNNClassifier
from fastnut.plotting import plot_filters

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X / 16, y, test_size=0.3, stratify=y, random_state=0
)

clf = CNNClassifier(
    input_shape=(1, 8, 8),
    conv_layers=((16, 3), (32, 3)),
    hidden_layer_sizes=(64,),
    max_iter=30,
    batch_size=64,
    random_state=0,
)
clf.fit(X_train, y_train)
print(
    f"test accuracy {clf.score(X_test, y_test):.3f} after {clf.n_iter_} epochs"
)

# %%
# The sixteen 3x3 filters of the first convolution
# ------------------------------------------------
# :func:`fastnut.plotting.plot_filters` draws ``Conv2D.params["weight"]``,
# shape ``(C_out, C_in, kh, kw)`` as in PyTorch. Edge and stroke detectors
# appear after a few epochs.
fig = plot_filters(clf, n_cols=8)

# %%
# Feature maps on one digit
# -------------------------
# The fitted network is a :class:`fastnut.nn.Sequential` (``network_``); its
# layers run on their own. The first layer is the convolution with its ReLU
# fused in.
net = clf.network_
digit = X_test[:1].reshape(1, 1, 8, 8).astype(net.dtype)
maps = net.layers[0].forward(digit)
fig, axes = plt.subplots(2, 9, figsize=(9, 2.4))
axes[0, 0].imshow(digit[0, 0], cmap="gray_r")
axes[0, 0].set_title(f"label {y_test[0]}", fontsize=8)
axes[1, 0].set_axis_off()
for k, ax in enumerate(axes[:, 1:].ravel()):
    ax.imshow(maps[0, k], cmap="magma")
for ax in axes.ravel():
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("a test digit and the first 16 feature maps after conv + ReLU")
fig.tight_layout()

# %%
# Where it still errs
# -------------------
ConfusionMatrixDisplay.from_estimator(clf, X_test, y_test, colorbar=False)
plt.title("CNNClassifier on held-out digits")
plt.show()
