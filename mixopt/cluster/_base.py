"""What a clustering method is: ``fit_predict(x, k, seed) -> labels`` over an embedding matrix.

A clusterer needs no base class; anything with this one method will do::

    class Spectral:
        def fit_predict(self, x: np.ndarray, k: int, seed: int) -> np.ndarray:
            from sklearn.cluster import SpectralClustering
            return SpectralClustering(n_clusters=k, random_state=seed).fit_predict(x)

Register it as ``module:attr`` (``mixopt cluster --method my_package.clusters:Spectral``)
or under the ``mixopt.clusterers`` entry-point group; :func:`mixopt.testing.check_clusterer`
checks it as ``mixopt cluster`` uses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np

__all__ = ["Clusterer"]


class Clusterer(Protocol):
    """Splits the rows of an embedding matrix into ``k`` clusters.

    Built by calling the registered class or factory with no arguments (a constructor only
    stores, so building one costs nothing); ``fit_predict`` is then called once per
    candidate ``k`` on the same matrix. It must return an integer array of one label in
    ``[0, k)`` per row, in row order; give the same labels for the same ``seed`` (seed every
    random generator from it); leave ``x`` unchanged; and keep rows that clearly belong
    together in one cluster. Heavy imports (torch, sklearn) belong inside ``fit_predict``.
    """

    def fit_predict(self, x: np.ndarray, k: int, seed: int) -> np.ndarray:
        """One label in [0, k) per row of ``x`` (rows: records; columns: embedding dims)."""
        ...
