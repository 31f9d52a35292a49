"""The surrogate sampler: fits models of score against mixture to the study's own trials and
proposes the mixture they predict best, for as long as that pays; a GP sampler proposes the
rest.

Each ask, once at least ``startup`` trials are complete and at least ``k + 2`` for ``k``
free domains (the mixing law has ``k + 1`` coefficients), and unless it is backing off:

1. fit :func:`~mixopt.search.proposals.surrogate_model.fit_surrogate` (the data mixing law and a bag
   of quadratic ridge regressions, weighted by held-out error) to every completed trial;
2. score candidates: random mixtures (flat and sparse Dirichlet draws) and the trials'
   own, then three rounds of local steps around the best eight (log-weight steps of sd 0.7,
   0.35, 0.15). Each candidate is a point of the study's parameters mapped by the
   :class:`~mixopt.search.proposals.space.Simplex`, so it is feasible (bounds, fixed shares, caps) by
   construction;
3. propose the best candidate farther than L1 0.05 from every completed and running trial:
   scoring the same mixture again teaches the model little, and a point next to a running
   trial duplicates its work.

Otherwise the fallback proposes: the GP sampler with the same seed and start-up trials (so
the first ``startup`` trials are random), on the same parameters. Parameters that are not
shares (filter thresholds, training knobs) always come from the fallback's independent
sampling: the surrogate models the mixture only.

"Pays": a surrogate proposal pays when its score beats the best score known when it was
proposed (kept with it), or ranks in the top quarter of the trials asked up to it (near an
optimum, noise hides most improvements, and landing there is what the surrogate is for).
A pruned proposal misses; a failed one is not judged. After ``m`` misses in a row the
fallback gets ``2**(m - 1)`` turns (1, 2, 4, at most 8) before the surrogate proposes
again: a model that is wrong about the objective should cost the study little, and one
pay resets the count. The proposals are marked by a trial system attribute, so the
policy is read from storage and survives a resume.

The sampler needs the map between parameters and mixtures: :meth:`SurrogateSampler.attach`
gives it the study's simplex (mixopt's study loop calls it; until then it only falls
back). It learns from the mixture each trial trained (the one mixopt records with it, else
its parameters mapped by the simplex); with searched filters it proposes on the whole pool's
simplex, and the loop makes that proposal feasible on the pool the trial's filters leave.
One objective only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import optuna
from optuna.distributions import BaseDistribution, FloatDistribution
from optuna.samplers import BaseSampler
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

if TYPE_CHECKING:
    from mixopt.search.proposals.space import Simplex
    from mixopt.search.proposals.surrogate_model import Surrogate

__all__ = ["PROPOSED", "SurrogateSampler", "batch_shares", "fallback_turns_owed"]

PROPOSED = "mixopt:surrogate"
"""Trial system attribute of a surrogate proposal: ``{"best": ..., "predicted": ...}``, in
the direction of maximization."""
MAX_BACKOFF = 8
_STEPS = (0.7, 0.35, 0.15)
_KEEP = 8  # candidates refined by local steps
_TOL = 1e-6  # as mixopt.data.allocation's


class SurrogateSampler(BaseSampler):
    """Proposes the mixture a fitted mixing law and regression bag predict best (see module)."""

    def __init__(
        self,
        seed: int | None = None,
        startup: int = 8,
        candidates: int = 256,
        members: int = 8,
        away: float = 0.05,
    ) -> None:
        """``candidates``: random mixtures scored per proposal (and as many in local steps);
        ``members``: regressions in the bag; ``away``: the least L1 distance to a trial."""
        self.seed, self.startup, self.candidates = seed, startup, candidates
        self.members, self.away = members, away
        self._simplex: Simplex | None = None
        self._fallback: BaseSampler | None = None
        self._entropy: int | None = None

    def attach(self, simplex: Simplex) -> None:
        """The map between the study's parameters and feasible mixtures."""
        self._simplex = simplex

    @property
    def fallback(self) -> BaseSampler:
        if self._fallback is None:
            self._fallback = optuna.samplers.GPSampler(
                seed=self.seed, n_startup_trials=self.startup
            )
        return self._fallback

    # -- BaseSampler --------------------------------------------------------------

    def infer_relative_search_space(
        self, study: optuna.Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return {**self.fallback.infer_relative_search_space(study, trial), **self._share_space()}

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if len(study.directions) > 1:
            raise ValueError("the surrogate sampler takes one objective")
        proposal = self._propose(study, trial)
        if proposal is not None:
            return proposal
        own = self.fallback.infer_relative_search_space(study, trial)
        return self.fallback.sample_relative(
            study, trial, {k: v for k, v in search_space.items() if k in own}
        )

    def sample_independent(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self.fallback.sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.fallback.before_trial(study, trial)

    def after_trial(
        self,
        study: optuna.Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self.fallback.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.fallback.reseed_rng()
        self._entropy = int(np.random.SeedSequence().generate_state(1)[0])

    # -- the proposal -------------------------------------------------------------

    def _share_space(self) -> dict[str, BaseDistribution]:
        from mixopt.search.proposals.space import _LOGRATIO_RANGE

        s = self._simplex
        if s is None:
            return {}
        if s.kind == "exponential":
            return {f"w_{n}": FloatDistribution(1e-12, 1.0) for n in s.params}
        return {f"z_{n}": FloatDistribution(-_LOGRATIO_RANGE, _LOGRATIO_RANGE) for n in s.params}

    def _rng(self, number: int) -> np.random.Generator:
        if self.seed is None and self._entropy is None:
            self._entropy = int(np.random.SeedSequence().generate_state(1)[0])
        base = self._entropy if self._entropy is not None else self.seed
        assert base is not None
        return np.random.default_rng([base, number, 17])

    def _propose(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, float] | None:
        """The surrogate's parameters for ``trial``, or None where the fallback proposes."""
        from mixopt.search.proposals.surrogate_model import fit_surrogate

        simplex = self._simplex
        if simplex is None or len(simplex.free) < 2 or "fixed_params" in trial.system_attrs:
            return None
        sign = 1.0 if study.direction == StudyDirection.MAXIMIZE else -1.0
        trials = study.get_trials(deepcopy=False)
        done = [
            t
            for t in trials
            if t.state == TrialState.COMPLETE and t.value is not None and math.isfinite(t.value)
        ]
        if len(done) < max(self.startup, len(simplex.free) + 2) or fallback_turns_owed(
            trials, trial.number, sign
        ):
            return None
        x_done, kept = _trial_shares(simplex, done)
        if len(kept) < len(simplex.free) + 2:
            return None
        y = np.array([sign * float(t.value) for t in kept])  # type: ignore[arg-type]
        running = [t for t in trials if t.state == TrialState.RUNNING and t.number != trial.number]
        x_running, _ = _trial_shares(simplex, running)
        rng = self._rng(trial.number)
        model = fit_surrogate(x_done, y, seed=int(rng.integers(2**31)), members=self.members)
        found = self._best(model, simplex, x_done, np.vstack([x_done, x_running]), rng)
        if found is None:
            return None
        raw, predicted = found
        record = {"best": float(y.max()), "predicted": float(predicted)}
        study._storage.set_trial_system_attr(trial._trial_id, PROPOSED, record)
        prefix = "w_" if simplex.kind == "exponential" else "z_"
        return {f"{prefix}{n}": float(v) for n, v in zip(simplex.params, raw, strict=True)}

    def _best(
        self,
        model: Surrogate,
        simplex: Simplex,
        seen: np.ndarray,
        avoid: np.ndarray,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, float] | None:
        """The raw parameters of the best-predicted candidate away from ``avoid``, and its prediction."""
        k = len(simplex.free)
        half = self.candidates // 2
        logw = np.vstack(
            [
                np.log(rng.gamma(1.0, size=(half, k)) + 1e-300),  # flat Dirichlet
                # sparse: near faces
                np.log(rng.gamma(0.3, size=(self.candidates - half, k)) + 1e-300),
                np.log(np.maximum(seen, 1e-12)),  # the trials' own mixtures, as starting points
            ]
        )
        pool: tuple[np.ndarray, ...] | None = None  # log-weights, raw, predictions, far enough
        for step in (None, *_STEPS):
            if step is not None:
                assert pool is not None
                tops = np.repeat(pool[0], max(1, self.candidates // (_KEEP * 2)), axis=0)
                logw = tops + rng.normal(0.0, step, tops.shape)
            raw = _to_raw(simplex, logw)
            shares = batch_shares(simplex, raw)
            score = model.predict(shares)
            far = _far(shares, avoid, self.away)
            if pool is not None:  # the best so far stay in the running
                logw, raw, score, far = (
                    np.vstack([pool[0], logw]),
                    np.vstack([pool[1], raw]),
                    np.concatenate([pool[2], score]),
                    np.concatenate([pool[3], far]),
                )
            order = np.lexsort((-score, ~far))  # the far ones first, best predicted first
            top = order[:_KEEP]
            pool = (logw[top], raw[top], score[top], far[top])
        assert pool is not None
        if not pool[3][0]:
            return None
        return pool[1][0], float(pool[2][0])


def fallback_turns_owed(trials: Sequence[FrozenTrial], number: int, sign: float = 1.0) -> int:
    """How many more trials the fallback proposes before the surrogate may propose trial
    ``number`` (read from ``trials`` alone; see the module for the policy)."""
    ours = sorted(
        (t for t in trials if PROPOSED in t.system_attrs and t.number < number),
        key=lambda t: -t.number,
    )
    misses = 0
    for t in ours:
        verdict = _pays(t, trials, sign)
        if verdict is None:
            continue
        if verdict:
            break
        misses += 1
    if not misses:
        return 0
    owed = min(2 ** (misses - 1), MAX_BACKOFF)
    taken = sum(1 for t in trials if ours[0].number < t.number < number)
    return int(max(owed - taken, 0))


def _pays(t: FrozenTrial, trials: Sequence[FrozenTrial], sign: float) -> bool | None:
    if t.state == TrialState.PRUNED:
        return False
    if t.state != TrialState.COMPLETE or t.value is None:
        return None
    value = sign * t.value
    if value > float(t.system_attrs[PROPOSED]["best"]):
        return True
    earlier = [
        sign * u.value
        for u in trials
        if u.state == TrialState.COMPLETE and u.value is not None and u.number <= t.number
    ]
    return bool(value >= np.quantile(earlier, 0.75))


def _far(shares: np.ndarray, avoid: np.ndarray, away: float) -> np.ndarray:
    if not len(avoid):
        return np.ones(len(shares), dtype=bool)
    dist = np.abs(shares[:, None, :] - avoid[None, :, :]).sum(axis=2)
    return np.asarray(dist.min(axis=1) >= away)


def _to_raw(simplex: Simplex, logw: np.ndarray) -> np.ndarray:
    """Parameter values (columns: ``simplex.params``) whose weights are ``exp(logw)``, kept in range."""
    from mixopt.search.proposals.space import _LOGRATIO_RANGE

    if simplex.kind == "exponential":
        # the largest weight is 1
        e = np.maximum(np.exp(logw - logw.max(axis=1, keepdims=True)), 1e-12)
        return np.exp(-e)  # type: ignore[no-any-return]
    return np.clip(logw[:, :-1] - logw[:, -1:], -_LOGRATIO_RANGE, _LOGRATIO_RANGE)  # type: ignore[no-any-return]


def batch_shares(simplex: Simplex, raw: np.ndarray) -> np.ndarray:
    """The free domains' shares of ``simplex.mixture`` for each row of parameter values (columns:
    ``simplex.params``): the same arithmetic as :func:`mixopt.data.allocation.scaled_mixture`,
    on many rows at once."""
    raw = np.atleast_2d(np.asarray(raw, dtype=float))
    names = [d.name for d in simplex.domains]
    cols = [names.index(n) for n in simplex.free]
    if simplex.kind == "exponential":
        free = -np.log(np.maximum(raw, 1e-300))
    else:
        free = np.exp(np.hstack([raw, np.zeros((len(raw), 1))]))  # the reference is exp(0)
    w = np.zeros((len(raw), len(names)))
    w[:, cols] = free
    empty = w[:, cols].sum(axis=1) <= 0
    w[np.ix_(empty, cols)] = 1.0  # every u was 1: no preference
    budget = simplex.budget
    lo = np.array([d.spec.lower for d in simplex.domains])
    hi = np.array(
        [
            min(d.spec.upper, d.capacity / budget) if budget else d.spec.upper
            for d in simplex.domains
        ]
    )
    short = np.where(w > 0, hi, lo).sum(axis=1) < 1 - _TOL
    if short.any():  # as scaled_mixture: zero weights become a billionth of the smallest
        floor = 1e-9 * np.min(np.where(w > 0, w, np.inf), axis=1, keepdims=True)
        w = np.where(short[:, None] & (w <= 0), floor, w)
    low = np.zeros(len(w))
    high = np.max(np.where(w > 0, hi / np.where(w > 0, w, 1.0), 0.0), axis=1)
    for _ in range(200):
        mid = (low + high) / 2
        under = np.clip(mid[:, None] * w, lo, hi).sum(axis=1) < 1
        low, high = np.where(under, mid, low), np.where(under, high, mid)
    shares = np.clip(high[:, None] * w, lo, hi)
    return (shares / shares.sum(axis=1, keepdims=True))[:, cols]  # type: ignore[no-any-return]


def _trial_shares(
    simplex: Simplex, trials: Sequence[FrozenTrial]
) -> tuple[np.ndarray, list[FrozenTrial]]:
    """The free domains' shares each trial trained (its recorded mixture, else its parameters
    mapped by ``simplex``), and the trials that have them."""
    from mixopt.study.trials import Attr

    prefix = "w_" if simplex.kind == "exponential" else "z_"
    rows: list[np.ndarray | None] = []
    mapped, kept, raws = [], [], []
    for t in trials:
        mix = t.user_attrs.get(Attr.MIXTURE)
        if isinstance(mix, Mapping) and all(n in mix for n in simplex.free):
            rows.append(np.array([float(mix[n]) for n in simplex.free]))
        elif all(f"{prefix}{n}" in t.params for n in simplex.params):
            rows.append(None)
            mapped.append(len(rows) - 1)
            raws.append([float(t.params[f"{prefix}{n}"]) for n in simplex.params])
        else:
            continue
        kept.append(t)
    if raws:
        for i, row in zip(mapped, batch_shares(simplex, np.array(raws)), strict=True):
            rows[i] = row
    if not rows:
        return np.zeros((0, len(simplex.free))), kept
    return np.vstack([r for r in rows if r is not None]), kept
