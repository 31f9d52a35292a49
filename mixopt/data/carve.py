"""Held-out records of the training domains themselves, carved off before tokenization.

With ``--in-domain`` each domain sets apart a fixed sample of its records that no trial
trains on (its tokenized pool, its token count, its repetition cap and the budget's
feasibility are all computed without them); the ``in_domain`` task measures each trial's
loss on them (:mod:`mixopt.evaluators.in_domain`). The sample depends on the domain's name
and record count only: the same records in every trial, seed and resumed run.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING, Any

from mixopt.errors import ConfigError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["HELD_OUT_FRACTION", "HELD_OUT_RECORDS", "carved_rows", "carving_rule", "named_order"]

# As leave-one-out's sample (mixopt.plans.HELDOUT_RECORDS): 128 records keep a
# domain's loss stable (its sampling error shrinks as 1/sqrt(records)) for a forward pass over at
# most 128 x 2048 tokens per domain, a small part of a training pass.
HELD_OUT_RECORDS = 128
# ...but never more than a tenth of a domain: unlike leave-one-out's sample these records leave
# the pool for good, and a small domain must keep most of its data (and its repetition cap).
HELD_OUT_FRACTION = 0.1
_SEED = 0x696E646F  # "indo": apart from every trial seed, so no trial's seed moves the sample


def carving_rule() -> dict[str, Any]:
    """What decides the carved records (part of a carved pool's cache key)."""
    return {"records": HELD_OUT_RECORDS, "fraction": HELD_OUT_FRACTION, "seed": _SEED}


def named_order(salt: int, name: str, n: int) -> np.ndarray:
    """A permutation of ``n`` record indices fixed by ``salt`` and a domain's name alone (no
    trial's seed moves it): the held-out samples here and in leave-one-out are its heads."""
    import numpy as np

    return np.random.default_rng([salt, zlib.crc32(name.encode())]).permutation(n)


def carved_rows(name: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(held-out, kept) record indices of a domain of ``n`` records, each sorted: the
    held-out ones min(128, n // 10), drawn by a generator seeded by the domain's name."""
    import numpy as np

    k = min(HELD_OUT_RECORDS, int(n * HELD_OUT_FRACTION))
    if k < 1:
        least = int(1 / HELD_OUT_FRACTION)
        raise ConfigError(
            f"domain {name!r}: {n} records; --in-domain holds out a tenth of each domain's records "
            f"(at most {HELD_OUT_RECORDS}) and needs at least {least}"
        )
    order = named_order(_SEED, name, n)
    return np.sort(order[:k]), np.sort(order[k:])
