"""
==============================================
Self-organizing map: colours, U-matrix, digits
==============================================

A :class:`fastnut.SelfOrganizingMap` lays a grid of prototypes over the data
so that neighbouring units hold similar prototypes. Trained on random RGB
colours, a hexagonal map sorts them into a smooth colour map; its U-matrix
(mean distance of each unit to its neighbours) shows where the borders are.
On the digits, the label of each unit's samples shows the classes settling
into regions of the map.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

from fastnut import SelfOrganizingMap
from fastnut.plotting import (
    plot_som_colors,
    plot_som_hit_map,
    plot_som_map,
    plot_som_umatrix,
)

# %%
# 3,000 random colours on a 20 x 20 hexagonal map
# -----------------------------------------------
colors = np.random.default_rng(0).random((3000, 3))
som = SelfOrganizingMap(
    20, 20, topology="hexagonal", max_iter=20, random_state=0
)
som.fit(colors)
print(
    f"quantization error {som.quantization_error(colors):.4f}, "
    f"topographic error {som.topographic_error(colors):.4f}"
)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4.5))
plot_som_colors(som, ax=ax1)
ax1.set_title("prototypes, drawn in their own colour")
plot_som_umatrix(som, ax=ax2)
fig.tight_layout()

# %%
# Training: one quantization error per epoch
# ------------------------------------------
# The batch algorithm (the default) makes one update per epoch while the
# neighbourhood radius shrinks from ``sigma_start`` to ``sigma_end``; the last
# ``hold_iter`` epochs (4) stay at ``sigma_end`` and let the map settle.
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(np.arange(1, som.n_iter_ + 1), som.quantization_errors_, marker="o")
ax.set(
    xlabel="epoch", ylabel="quantization error", title="SelfOrganizingMap.fit"
)
fig.tight_layout()

# %%
# The digits on a 12 x 12 map
# ---------------------------
# :meth:`~fastnut.SelfOrganizingMap.label_map` gives each unit the majority
# label of the samples it wins; the hit map counts them.
X, y = load_digits(return_X_y=True)
digits_som = SelfOrganizingMap(12, 12, max_iter=30, random_state=0).fit(X / 16)
labels = digits_som.label_map(X / 16, y)

fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(14, 4.3))
plot_som_map(
    digits_som,
    labels,
    ax=ax1,
    cmap="tab10",
    title="majority label per unit",
    annotate=True,
)
plot_som_hit_map(digits_som, X / 16, ax=ax2, annotate=False)
plot_som_umatrix(digits_som, ax=ax3)
fig.tight_layout()

# %%
# Prototypes as images
# --------------------
# Each unit's weight vector is a prototype digit.
W = digits_som.weights_
fig, axes = plt.subplots(12, 12, figsize=(6, 6))
for (r, c), ax in np.ndenumerate(axes):
    ax.imshow(W[r, c].reshape(8, 8), cmap="gray_r")
    ax.set_axis_off()
fig.suptitle("the 144 prototypes")
plt.show()
