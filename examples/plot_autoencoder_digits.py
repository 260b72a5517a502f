"""
===================================================
Autoencoders: reconstructions, codes and denoising
===================================================

An :class:`fastnut.Autoencoder` compresses each digit into a short code and
decodes it back. We compare its reconstructions with PCA's at the same size,
look at a 2-D code of the whole data set, and let a
:class:`fastnut.DenoisingAutoencoder` clean up noisy digits.
"""

# sphinx_gallery_thumbnail_number = 3

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.neighbors import KNeighborsClassifier

from fastnut import Autoencoder, DenoisingAutoencoder
from fastnut.plotting import plot_codes, plot_reconstructions

warnings.filterwarnings(
    "ignore", category=ConvergenceWarning
)  # short runs, on purpose

X, y = load_digits(return_X_y=True)
X = X / 16
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)

# %%
# 16-number codes
# ---------------
ae = Autoencoder(
    n_components=16, encoder_layer_sizes=(128,), max_iter=60, random_state=0
)
ae.fit(X_train)
pca = PCA(16).fit(X_train)


def mse(X, R):
    return float(np.mean(np.sum((X - R) ** 2, axis=1)))


ae_error = mse(X_test, ae.reconstruct(X_test))
pca_error = mse(X_test, pca.inverse_transform(pca.transform(X_test)))
print(
    f"held-out reconstruction error: autoencoder {ae_error:.3f}, "
    f"PCA {pca_error:.3f}"
)
fig = plot_reconstructions(
    ae,
    X_test,
    n_images=10,
    image_shape=(8, 8),
    title="held-out digits (top) and their reconstructions",
)

# %%
# Training curve
# --------------
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(ae.loss_curve_)
ax.set(
    xlabel="epoch",
    ylabel="reconstruction loss",
    yscale="log",
    title="Autoencoder(16, encoder_layer_sizes=(128,))",
)
fig.tight_layout()

# %%
# A 2-D code of every digit
# -------------------------
# With ``n_components=2`` the code is a map of the data set. How well do the
# classes keep apart? The cross-validated accuracy of a 5-nearest-neighbour
# classifier on the 2-D points measures it.
ae2 = Autoencoder(
    n_components=2, encoder_layer_sizes=(128, 32), max_iter=100, random_state=0
).fit(X)
codes, projection = ae2.transform(X), PCA(2).fit_transform(X)
knn = KNeighborsClassifier(5)
for name, Z in [("autoencoder", codes), ("PCA", projection)]:
    print(
        f"{name:12s} 2-D: k-NN accuracy {cross_val_score(knn, Z, y).mean():.3f}"
    )
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4.5))
plot_codes(codes, y=y, ax=ax1, title="autoencoder codes")
plot_codes(projection, y=y, ax=ax2, title="PCA, 2 components")
fig.tight_layout()

# %%
# Denoising
# ---------
# A :class:`~fastnut.DenoisingAutoencoder` corrupts every training batch
# afresh and learns to reconstruct the clean rows.
dae = DenoisingAutoencoder(
    n_components=32,
    noise="gaussian",
    noise_level=0.3,
    max_iter=60,
    random_state=0,
).fit(X_train)
noisy = np.clip(
    X_test[:10] + 0.3 * np.random.default_rng(0).standard_normal((10, 64)),
    0,
    1,
)
rows = {
    "clean": X_test[:10],
    "noisy": noisy,
    "denoised": dae.reconstruct(noisy),
}
fig, axes = plt.subplots(3, 10, figsize=(10, 3.3))
for r, (name, imgs) in enumerate(rows.items()):
    for c in range(10):
        axes[r, c].imshow(imgs[c].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        axes[r, c].set_xticks([])
        axes[r, c].set_yticks([])
    axes[r, 0].set_ylabel(name)
fig.tight_layout()

# %%
# Anomaly scores
# --------------
# ``score_samples`` is minus each row's reconstruction error: the digits the
# autoencoder finds hardest to reproduce are the unusual ones.
scores = ae.score_samples(X_test)
worst = np.argsort(scores)[:10]
fig, axes = plt.subplots(1, 10, figsize=(10, 1.6))
for ax, i in zip(axes, worst):
    ax.imshow(X_test[i].reshape(8, 8), cmap="gray_r")
    ax.set_title(f"{y_test[i]}: {scores[i]:.1f}", fontsize=8)
    ax.set_axis_off()
fig.suptitle("the ten held-out digits with the lowest score")
plt.show()
