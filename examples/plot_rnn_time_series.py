"""
=======================================
RNN: forecasting a chaotic time series
=======================================

:class:`fastnut.RNNRegressor` reads a window of a series step by step and
predicts a later value. The series is generated: the Mackey–Glass delay
equation (τ = 17), a classic chaotic benchmark for sequence models.
An LSTM and a GRU learn to forecast the value 10 steps past a window of 24,
next to a linear autoregression on the same windows.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_absolute_error

from fastnut import RNNRegressor

warnings.filterwarnings(
    "ignore", category=ConvergenceWarning
)  # 40 epochs, on purpose


def mackey_glass(n_steps, tau=17, substeps=10, seed=0):
    """Euler steps of dx/dt = 0.2 x(t-tau) / (1 + x(t-tau)^10) - 0.1 x(t)."""
    h = 1.0 / substeps
    lag = int(tau / h)
    rng = np.random.default_rng(seed)
    x = list(1.2 + 0.01 * rng.standard_normal(lag + 1))
    for _ in range(n_steps * substeps + 3000):  # 3000 substeps of burn-in
        x.append(
            x[-1]
            + h * (0.2 * x[-lag - 1] / (1 + x[-lag - 1] ** 10) - 0.1 * x[-1])
        )
    return np.array(x[lag + 1 + 3000 :: substeps])[:n_steps]


series = mackey_glass(1500)
series = (series - series.mean()) / series.std()

# %%
# Windows: 24 steps of one feature each, shape ``(n, T, F)``
# ----------------------------------------------------------
# The target is the value ``horizon`` steps after the end of the window.
T, horizon = 24, 10
windows = np.lib.stride_tricks.sliding_window_view(series, T + horizon)
X, y = windows[:, :T, None], windows[:, -1]
split = 1000
X_train, X_test, y_train, y_test = X[:split], X[split:], y[:split], y[split:]

models = {
    "LSTM(32)": RNNRegressor(
        cell="lstm", hidden_size=32, max_iter=40, batch_size=32, random_state=0
    ),
    "GRU(32)": RNNRegressor(
        cell="gru", hidden_size=32, max_iter=40, batch_size=32, random_state=0
    ),
}
predictions = {}
for name, model in models.items():
    predictions[name] = model.fit(X_train, y_train).predict(X_test)
ridge = Ridge(alpha=1e-3).fit(X_train[:, :, 0], y_train)
predictions["linear AR(24)"] = ridge.predict(X_test[:, :, 0])
for name, p in predictions.items():
    print(f"{name:14s} test MAE {mean_absolute_error(y_test, p):.3f}")

# %%
# Forecasts 10 steps ahead on the held-out end of the series
# ----------------------------------------------------------
fig, ax = plt.subplots(figsize=(8, 3.5))
steps = np.arange(split, split + len(y_test)) + T + horizon - 1
ax.plot(steps, y_test, color="k", lw=2, alpha=0.4, label="series")
for name, p in predictions.items():
    ax.plot(
        steps,
        p,
        lw=1,
        label=f"{name}: MAE {mean_absolute_error(y_test, p):.3f}",
    )
ax.set(
    xlim=(steps[0], steps[0] + 250),
    xlabel="step",
    title=f"forecast {horizon} steps past a window of {T}",
)
ax.legend(loc="lower right", fontsize=8)
fig.tight_layout()

# %%
# Training curves
# ---------------
# ``loss_curve_`` holds the mean training loss of each epoch. Every batch's
# gradient is clipped to ``clip_norm`` (5 by default).
fig, ax = plt.subplots(figsize=(5, 3))
for name, model in models.items():
    ax.plot(model.loss_curve_, label=name)
ax.set(xlabel="epoch", ylabel="training loss", yscale="log")
ax.legend()
fig.tight_layout()

# %%
# Sequences of different lengths
# ------------------------------
# Pad the end of shorter sequences with NaN steps; the recurrent layers skip
# them, so a padded sequence gets exactly the prediction it gets alone.
gru = models["GRU(32)"]
short = X_test[:1, -12:]  # the last 12 steps only
padded = np.concatenate([short, np.full((1, T - 12, 1), np.nan)], axis=1)
print(
    "12 steps alone:",
    gru.predict(short),
    " padded to 24:",
    gru.predict(padded),
)
plt.show()
