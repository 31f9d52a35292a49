"""The data mixing law of Ye et al. (2024), fitted to a study's own trials.

The law says a model's loss on a target depends on the mixture ``r`` as
``c + k * exp(t . r)``. Fitted to scores it reads ``score = a + b * exp(t . r)`` with ``b``
of either sign (a loss falls, an accuracy rises). The shares sum to a constant, so one
exponent is redundant: the last share is the reference, its exponent fixed at 0, and ``t``
has one entry per other share.

Given ``t`` the law is linear in ``a`` and ``b``, so the fit is a least-squares problem in
``t`` alone (variable projection: ``a`` and ``b`` solved exactly at each step), started from
several points, the best kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["MixingLaw", "fit_mixing_law"]

_T_BOUND = 30.0  # |t| beyond this gives exp() ratios a float cannot tell apart


@dataclass(frozen=True)
class MixingLaw:
    """``score = a + b * exp(t . r[:-1])`` for shares ``r`` (rows of a matrix)."""

    a: float
    b: float
    t: tuple[float, ...]
    rmse: float
    """Root-mean-square residual on the data it was fitted to."""

    def predict(self, shares: np.ndarray) -> np.ndarray:
        x = np.atleast_2d(np.asarray(shares, dtype=float))[:, :-1]
        out: np.ndarray = self.a + self.b * np.exp(x @ np.asarray(self.t))
        return out


def _linear(x: np.ndarray, y: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) that fit ``y`` best for exponents ``t``, and the residuals."""
    e = np.exp(np.clip(x @ t, -700, 700))
    design = np.column_stack([np.ones_like(e), e])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return coef, design @ coef - y


def _jacobian(x: np.ndarray, y: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The residuals' derivatives in ``t`` (Kaufman's approximation for variable projection:
    the part of ``d(design)/dt @ coef`` that ``a`` and ``b`` cannot absorb)."""
    e = np.exp(np.clip(x @ t, -700, 700))
    q, _ = np.linalg.qr(np.column_stack([np.ones_like(e), e]))
    (_, b), _ = _linear(x, y, t)
    moved = b * x * e[:, None]
    out: np.ndarray = moved - q @ (q.T @ moved)
    return out


def fit_mixing_law(
    shares: np.ndarray,
    scores: np.ndarray,
    starts: int = 4,
    seed: int = 0,
    init: np.ndarray | None = None,
) -> MixingLaw:
    """The law fitted by least squares from ``starts`` starting points (zero exponents, ``init``
    when given, the rest drawn with ``seed``); the best fit is kept."""
    from scipy.optimize import least_squares

    x = np.asarray(shares, dtype=float)[:, :-1]
    y = np.asarray(scores, dtype=float)
    if x.shape[0] != y.shape[0] or x.shape[0] < x.shape[1] + 3:
        raise ValueError(
            f"the mixing law needs at least {x.shape[1] + 3} scored mixtures, got {y.shape[0]}"
        )
    # on a standard scale, so the tolerances mean the same whatever the scores' units
    mean, scale = float(y.mean()), float(y.std()) or 1.0
    ys = (y - mean) / scale
    rng = np.random.default_rng(seed)
    points = [np.full(x.shape[1], 1e-3)]
    if init is not None:
        points.append(np.clip(np.asarray(init, dtype=float), -_T_BOUND, _T_BOUND))
    while len(points) < starts:
        points.append(np.asarray(rng.normal(0.0, 3.0, x.shape[1])))
    best: tuple[float, np.ndarray] | None = None
    for t0 in points:
        fit = least_squares(
            lambda t: _linear(x, ys, t)[1],
            t0,
            jac=lambda t: _jacobian(x, ys, t),
            bounds=(-_T_BOUND, _T_BOUND),
            max_nfev=60 * (x.shape[1] + 1),
        )
        cost = float(np.sum(fit.fun**2))
        if best is None or cost < best[0]:
            best = (cost, fit.x)
    assert best is not None
    (a, b), resid = _linear(x, ys, best[1])
    return MixingLaw(
        a=mean + scale * float(a),
        b=scale * float(b),
        t=tuple(float(v) for v in best[1]),
        rmse=scale * float(np.sqrt(np.mean(resid**2))),
    )
