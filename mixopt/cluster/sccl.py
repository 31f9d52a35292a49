"""A light SCCL (Zhang et al., "Supporting Clustering with Contrastive Learning", NAACL 2021)
on frozen embeddings.

A linear head, started as the identity, and k cluster centres, started from k-means, are
trained together: an instance-wise contrastive loss between two dropout views of each record
(temperature 0.5) plus the KL divergence from the Student's t soft assignments to their
sharpened target. Without the identity start the head first scrambles the k-means solution it
was meant to refine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = ["SCCL"]

TEMPERATURE = 0.5  # SCCL's contrastive temperature
CONTRASTIVE_WEIGHT = 10.0  # SCCL weighs the instance-wise term 10 to 1 against the clustering term
DROPOUT = 0.1  # the augmentation: two views of an embedding differ by dropout masks


class SCCL:
    """SCCL head on the embeddings: contrastive (dropout views) + clustering (Student's t) losses."""

    def __init__(self, epochs: int = 3, batch_size: int = 256, lr: float = 1e-3) -> None:
        self.epochs, self.batch_size, self.lr = epochs, batch_size, lr

    def fit_predict(self, x: np.ndarray, k: int, seed: int) -> np.ndarray:
        import numpy as np
        import torch

        from mixopt.cluster.methods import KMeans, centroids

        torch.manual_seed(seed)
        init = KMeans().fit_predict(x, k, seed)
        data = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        head = torch.nn.Linear(x.shape[1], x.shape[1])
        with torch.no_grad():
            head.weight.copy_(torch.eye(x.shape[1]))
            head.bias.zero_()
        centres = torch.nn.Parameter(torch.from_numpy(centroids(x, init, k).astype(np.float32)))
        optimizer = torch.optim.Adam([*head.parameters(), centres], lr=self.lr)
        generator = torch.Generator().manual_seed(seed)
        for _ in range(self.epochs):
            order = torch.randperm(len(data), generator=generator)
            for start in range(0, len(data), self.batch_size):
                batch = order[start : start + self.batch_size]
                loss = self._loss(head, centres, data[batch])
                optimizer.zero_grad()
                loss.backward()  # type: ignore[no-untyped-call]
                optimizer.step()
        with torch.inference_mode():
            q = _soft_assign(head(data), centres)
        return np.asarray(q.argmax(1).numpy(), dtype=np.int64)

    def _loss(self, head: torch.nn.Module, centres: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        import torch.nn.functional as F

        z1 = head(F.dropout(x, DROPOUT))
        z2 = head(F.dropout(x, DROPOUT))
        q = _soft_assign(head(x), centres)
        target = (q**2 / q.sum(0)).detach()  # sharpened: confident assignments pull harder
        target = target / target.sum(1, keepdim=True)
        kl = F.kl_div(q.log(), target, reduction="batchmean")
        return CONTRASTIVE_WEIGHT * _contrastive(z1, z2) + kl


def _soft_assign(z: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Student's t kernel (one degree of freedom) between points and centres, rows summing to 1."""
    q = 1.0 / (1.0 + ((z[:, None, :] - centres[None, :, :]) ** 2).sum(-1))
    return q / q.sum(1, keepdim=True)


def _contrastive(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """NT-Xent: each view must pick its twin among the 2n - 1 other views of the batch."""
    import torch
    import torch.nn.functional as F

    z = F.normalize(torch.cat([z1, z2]), dim=1)
    sim = z @ z.T / TEMPERATURE
    n = len(z1)
    sim.fill_diagonal_(float("-inf"))
    twins = torch.cat([torch.arange(n, 2 * n), torch.arange(n)])
    return F.cross_entropy(sim, twins)
