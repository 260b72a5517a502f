"""
==============================================
Boltzmann machines: components and samples
==============================================

A :class:`fastnut.BernoulliRBM` learns binary hidden features of the digits
by persistent contrastive divergence. We follow its pseudo-likelihood during
training, draw its components (the weights of each hidden unit as an image)
and let it generate digits by Gibbs sampling. A
:class:`fastnut.DeepBeliefNetwork` stacks RBMs and samples from the top of the
stack.
"""

# sphinx_gallery_thumbnail_number = 2

# %%
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from fastnut import BernoulliRBM, DeepBeliefNetwork
from fastnut.plotting import plot_rbm_components

X, y = load_digits(return_X_y=True)
X = X / 16  # visible units are probabilities in [0, 1]
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)

# %%
# Training, epoch by epoch
# ------------------------
# Each :meth:`~fastnut.BernoulliRBM.partial_fit` call is one epoch over the
# rows it gets, in mini-batches of ``batch_size``. ``score_samples`` is the
# pseudo-log-likelihood of each row (higher is better): here, on held-out
# digits after every epoch.
rbm = BernoulliRBM(
    n_components=100, learning_rate=0.06, batch_size=10, random_state=0
)
curve = []
for epoch in range(20):
    rbm.partial_fit(X_train)
    curve.append(rbm.score_samples(X_test).mean())
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(np.arange(1, 21), curve, marker="o")
ax.set(
    xlabel="epoch",
    ylabel="mean pseudo-log-likelihood",
    title="held-out digits",
)
fig.tight_layout()

# %%
# The 100 components
# ------------------
# Each hidden unit's weights to the 64 pixels, drawn as an 8x8 image.
fig = plot_rbm_components(rbm, n_components=100, n_cols=10)

# %%
# Samples: Gibbs chains run from the model
# ----------------------------------------
# :meth:`~fastnut.BernoulliRBM.sample` runs ``n_steps`` of block Gibbs
# sampling from random starts and returns the visible probabilities.
samples = rbm.sample(24, n_steps=1000, random_state=0)
fig, axes = plt.subplots(3, 8, figsize=(8, 3.2))
for img, ax in zip(samples, axes.ravel()):
    ax.imshow(img.reshape(8, 8), cmap="gray_r")
    ax.set_axis_off()
fig.suptitle("BernoulliRBM.sample(24, n_steps=1000)")

# %%
# A deep belief network
# ---------------------
# Two RBMs trained greedily, then the up-down fine-tuning. Its samples come
# from a Gibbs chain in the top RBM, passed down through the generative
# weights.
dbn = DeepBeliefNetwork(
    (128, 64), n_iter=10, batch_size=20, fine_tune_iter=3, random_state=0
).fit(X_train)
samples = dbn.sample(24, random_state=0)
fig, axes = plt.subplots(3, 8, figsize=(8, 3.2))
for img, ax in zip(samples, axes.ravel()):
    ax.imshow(img.reshape(8, 8), cmap="gray_r")
    ax.set_axis_off()
fig.suptitle("DeepBeliefNetwork((128, 64)).sample(24)")
plt.show()
