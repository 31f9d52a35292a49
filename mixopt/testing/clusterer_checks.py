"""The contract check of clustering methods (:func:`check_clusterer`), to call from a
plug-in's own tests::

    from mixopt.testing import check_clusterer

    def test_my_clusterer():
        check_clusterer("my_package.clusters:Spectral")

A check that fails raises :class:`~mixopt.testing.checks.ContractError` whose one line says
what is wrong and how to fix it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mixopt.errors import MixoptError, error_line
from mixopt.testing.checks import ContractError

__all__ = ["check_clusterer"]

_BLOBS, _ROWS, _DIMS = 3, 30, 8  # three clusters of 30 points in 8 dimensions: a second
_SPREAD = 0.05  # noise far below the blobs' distance (about 1): any method must split them
_PURE = 0.9  # the least share of a blob that must share one label


def check_clusterer(clusterer: str | Callable[[], Any], *, seed: int = 0) -> None:
    """Check that ``clusterer`` (a name as ``mixopt cluster --method`` takes it,
    ``module:attr``, or a class or factory called with no arguments) can cluster a pool's
    embeddings, as ``mixopt cluster`` uses it.

    On three well-separated blobs of float32 embeddings, ``fit_predict(x, k, seed)`` must,
    for k = 3 and for k = 2, return an integer array of one label in ``[0, k)`` per row and
    leave ``x`` unchanged; at k = 3, put each blob (at least 90% of it) in a cluster of its
    own, and give the same labels again for the same seed. Takes seconds.
    """
    name, factory = _resolve(clusterer)
    built = _build(factory, name)
    x = _blobs(seed)
    labels = _fit(built, name, x, _BLOBS, seed)
    _check_blobs(labels, name)
    if (_fit(_build(factory, name), name, x, _BLOBS, seed) != labels).any():
        raise ContractError(
            f"clusterer {name!r} is not reproducible: with seed {seed} it gave two different "
            "labelings of the same rows; seed every random generator from fit_predict's seed"
        )
    _fit(built, name, x, 2, seed)  # fewer clusters than the data has: k is what is asked


def _resolve(clusterer: str | Callable[[], Any]) -> tuple[str, Callable[[], Any]]:
    from mixopt.cluster import CLUSTERERS

    if isinstance(clusterer, str):
        try:
            return clusterer, CLUSTERERS.get(clusterer)
        except MixoptError as exc:
            raise ContractError(exc.problems[0]) from None  # it names the method
    if not callable(clusterer):
        raise ContractError(
            f"clusterer {clusterer!r} is not a class or factory; give one that is called "
            "with no arguments"
        )
    return str(getattr(clusterer, "__qualname__", clusterer)), clusterer


def _build(factory: Callable[[], Any], name: str) -> Any:
    try:
        built = factory()
    except Exception as exc:
        raise ContractError(
            f"clusterer {name!r}: calling it with no arguments raised {error_line(exc)}; "
            "mixopt builds a clusterer so (give its options defaults)"
        ) from exc
    if not callable(getattr(built, "fit_predict", None)):
        raise ContractError(
            f"clusterer {name!r}: its {type(built).__name__} has no fit_predict(x, k, seed) "
            "method (mixopt.cluster.Clusterer)"
        )
    return built


def _blobs(seed: int) -> Any:
    import numpy as np

    rng = np.random.default_rng(seed)
    centres = np.eye(_BLOBS, _DIMS)  # one unit direction each: distance sqrt(2) apart
    x = np.repeat(centres, _ROWS, axis=0) + rng.normal(scale=_SPREAD, size=(_BLOBS * _ROWS, _DIMS))
    return x.astype(np.float32)  # as the embedders give them


def _fit(built: Any, name: str, x: Any, k: int, seed: int) -> Any:
    import numpy as np

    given = x.copy()
    try:
        labels = built.fit_predict(x, k, seed)
    except Exception as exc:
        raise ContractError(
            f"clusterer {name!r}: fit_predict(x, {k}, {seed}) raised {error_line(exc)} on "
            f"{len(x)} float32 rows; it must cluster any embedding matrix"
        ) from exc
    if not np.array_equal(x, given):
        raise ContractError(
            f"clusterer {name!r} changed the embeddings it was given; work on a copy "
            "(the same matrix is clustered at every candidate k)"
        )
    if not isinstance(labels, np.ndarray) or labels.shape != (len(x),):
        shape = getattr(labels, "shape", type(labels).__name__)
        raise ContractError(
            f"clusterer {name!r}: fit_predict returned {shape} for {len(x)} rows; return a "
            "numpy array of one label per row"
        )
    if not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() >= k:
        raise ContractError(
            f"clusterer {name!r}: fit_predict gave labels of {labels.dtype} from "
            f"{labels.min()} to {labels.max()} at k={k}; give integers in [0, {k})"
        )
    return labels


def _check_blobs(labels: Any, name: str) -> None:
    import numpy as np

    majority = []
    for blob in range(_BLOBS):
        counts = np.bincount(labels[blob * _ROWS : (blob + 1) * _ROWS], minlength=_BLOBS)
        if counts.max() < _PURE * _ROWS:
            raise ContractError(
                f"clusterer {name!r} split a well-separated blob of {_ROWS} rows "
                f"({counts.max()} in its largest cluster); it must group rows that lie together"
            )
        majority.append(int(counts.argmax()))
    if len(set(majority)) < _BLOBS:
        raise ContractError(
            f"clusterer {name!r} put two of {_BLOBS} well-separated blobs in one cluster at "
            f"k={_BLOBS} (labels {majority}); it must use the k clusters it is asked for"
        )
