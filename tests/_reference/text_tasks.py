"""Synthetic text and sequence tasks for the token-input and per-step tests.

``negation_reviews``: short "reviews" with exactly one sentiment word; in
two thirds of them a "not" stands somewhere, and it flips the sentiment only
when it comes *before* the sentiment word.  Every review of a class shares
the same words, so a bag of words cannot tell where the "not" is: order
matters (a bag-of-words logistic regression scores about 0.68).
"""
import numpy as np

POSITIVE = ("good", "great", "fine", "nice", "superb")
NEGATIVE = ("bad", "awful", "poor", "dull", "weak")
FILLER = ("the a this that film movie plot actor scene story was is it and but very quite "
          "really so ending music cast script acting").split()


def negation_reviews(n, seed=0):
    """``(documents, labels)``: ``n`` strings and their boolean sentiment."""
    rng = np.random.default_rng(seed)
    docs, labels = [], []
    for _ in range(n):
        words = list(rng.choice(FILLER, rng.integers(5, 12)))
        positive = bool(rng.random() < 0.5)
        at = int(rng.integers(0, len(words) + 1))
        words.insert(at, str(rng.choice(POSITIVE if positive else NEGATIVE)))
        negated = False
        if rng.random() < 2 / 3:
            where = int(rng.integers(0, len(words) + 1))
            words.insert(where, "not")
            negated = where <= at  # before the sentiment word (which moved one on)
        docs.append(" ".join(words))
        labels.append(positive != negated)
    return docs, np.array(labels)


def running_sum_tags(n, T=12, min_len=3, seed=0):
    """Steps of +-1 (NaN-padded to ``T``) and per-step tags "running sum > 0".

    Returns ``(X (n, T), y (n, T) float with NaN at padded steps, lengths)``.
    """
    rng = np.random.default_rng(seed)
    X = rng.choice([-1.0, 1.0], (n, T))
    lengths = rng.integers(min_len, T + 1, n)
    pad = np.arange(T)[None, :] >= lengths[:, None]
    X[pad] = np.nan
    y = (np.nancumsum(X, axis=1) > 0).astype(float)
    y[pad] = np.nan
    return X, y, lengths
