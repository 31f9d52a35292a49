"""What the surrogate sampler predicts scores with: the data mixing law and a bootstrap bag of
quadratic ridge regressions, weighted by how well each predicts trials it was not fitted to.

The law (:mod:`mixopt.search.proposals.mixing_law`) is right when scores follow its shape, and then
extrapolates well from few trials; the quadratic bag (Scheffe's classic model for mixture
experiments, all pairwise products of the shares) assumes less and follows whatever shape
the trials show, a bump included. Each gets the weight ``1 / error``, its mean squared error
on held-out trials: the law's from k-fold refits, the bag's from its out-of-bag predictions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mixopt.search.proposals.mixing_law import MixingLaw, fit_mixing_law

__all__ = ["Surrogate", "fit_surrogate"]

_ALPHAS = tuple(float(a) for a in np.logspace(-6, 1, 8))


def quadratic(shares: np.ndarray) -> np.ndarray:
    """The shares and every product of two of them (squares included)."""
    x = np.atleast_2d(np.asarray(shares, dtype=float))
    i, j = np.triu_indices(x.shape[1])
    return np.hstack([x, x[:, i] * x[:, j]])


@dataclass(frozen=True)
class Surrogate:
    """The combined prediction ``weight * law + (1 - weight) * bag``."""

    law: MixingLaw | None
    bag: tuple[Any, ...]
    weight: float
    """The law's weight, in [0, 1]."""
    errors: tuple[float, float]
    """Held-out mean squared errors of the law (inf: not fitted) and of the bag."""

    def predict(self, shares: np.ndarray) -> np.ndarray:
        feats = quadratic(shares)
        bag: np.ndarray = np.mean([m.predict(feats) for m in self.bag], axis=0)
        if self.law is None or self.weight == 0.0:
            return bag
        out: np.ndarray = self.weight * self.law.predict(shares) + (1.0 - self.weight) * bag
        return out


def fit_surrogate(
    shares: np.ndarray, scores: np.ndarray, seed: int, members: int = 8, folds: int = 5
) -> Surrogate:
    """Both models fitted to ``scores`` at ``shares`` (rows: trials, columns: free domains)."""
    from sklearn.linear_model import Ridge, RidgeCV

    x, y = np.asarray(shares, dtype=float), np.asarray(scores, dtype=float)
    n = len(y)
    rng = np.random.default_rng(seed)
    feats = quadratic(x)
    alpha = float(RidgeCV(alphas=_ALPHAS).fit(feats, y).alpha_)
    bag, oob_sum, oob_count = [], np.zeros(n), np.zeros(n)
    for _ in range(members):
        rows = rng.integers(0, n, n)
        model = Ridge(alpha=alpha).fit(feats[rows], y[rows])
        out = np.setdiff1d(np.arange(n), rows)
        if len(out):  # a draw may hold every trial: it predicts none out of its bag
            oob_sum[out] += model.predict(feats[out])
            oob_count[out] += 1
        bag.append(model)
    seen = oob_count > 0
    bag_error = (
        float(np.mean((oob_sum[seen] / oob_count[seen] - y[seen]) ** 2))
        if seen.any()
        else float("inf")
    )
    law, law_error = _law(x, y, rng, folds)
    if law is None or not np.isfinite(law_error):
        return Surrogate(None, tuple(bag), 0.0, (float("inf"), bag_error))
    inv_law, inv_bag = 1.0 / max(law_error, 1e-300), 1.0 / max(bag_error, 1e-300)
    return Surrogate(law, tuple(bag), inv_law / (inv_law + inv_bag), (law_error, bag_error))


def _law(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator, folds: int
) -> tuple[MixingLaw | None, float]:
    """The law on every trial, and its k-fold mean squared error (refits start from it)."""
    n = len(y)
    try:
        law = fit_mixing_law(x, y, starts=4, seed=int(rng.integers(2**31)))
    except (ValueError, np.linalg.LinAlgError):
        return None, float("inf")
    order = rng.permutation(n)
    errors = []
    for k in range(folds):
        held = order[k::folds]
        kept = np.setdiff1d(order, held)
        try:
            part = fit_mixing_law(x[kept], y[kept], starts=1, init=np.array(law.t))
        except (ValueError, np.linalg.LinAlgError):
            return law, float("inf")
        errors.append((part.predict(x[held]) - y[held]) ** 2)
    return law, float(np.mean(np.concatenate(errors)))
