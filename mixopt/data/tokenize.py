"""Tokenize each domain once per tokenizer and cache the result on disk.

The cache key is a digest of the domain's *content* (file bytes or inline records), how its
records are read and formatted, and the tokenizer (see :func:`tokenizer_fingerprint`), so a
renamed file or another run hits the cache and a changed byte misses it. Entries are Arrow
files that later runs memory-map; each is written under a temporary name and renamed, so a
killed run never leaves a half-written entry behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mixopt.data.formats import render_batch, resolve_format
from mixopt.data.sources import expand_paths, load_records
from mixopt.data.spec import DomainSpec, count_problems
from mixopt.errors import ConfigError, MixoptError
from mixopt.io import write_json_atomic
from mixopt.models import tokenizer_fingerprint

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from mixopt.events import EventLog

__all__ = [
    "TokenizedDomain",
    "default_cache_dir",
    "held_out_of",
    "publish",
    "text_hash",
    "tokenize_domain",
    "tokenize_domains",
]

_SCHEMA = 2  # bump when the cached layout or the tokenization rules change
# strings shorter than this (an answer letter, a number, a database name) are shared by chance,
# not because an evaluation item leaked into training data
MIN_HASHED_CHARS = 16
_BATCH = 1000  # records per tokenizer call: large enough for the Rust tokenizer's batching
HELD_OUT = "held_out"  # the folder, inside a carved pool's entry, of its held-out records


def default_cache_dir() -> Path:
    """``$MIXOPT_CACHE_DIR``, else ``~/.cache/mixopt``."""
    return Path(os.environ.get("MIXOPT_CACHE_DIR") or Path.home() / ".cache" / "mixopt")


@dataclass(frozen=True)
class TokenizedDomain:
    """A domain's cached tokens: small and picklable; the tokens stay on disk until read."""

    spec: DomainSpec
    """The domain as the domains file gave it."""
    format: str
    """The record format that was used (``auto`` resolved)."""
    path: str
    """The cached Arrow file (columns ``input_ids``, ``length`` and, for masked formats,
    ``loss_mask``)."""
    num_records: int
    """Records in the domain."""
    num_tokens: int
    """Tokens in the domain, after formatting, separators included."""
    eos_id: int | None = None
    """The end-of-sequence token that ends every record (None if the tokenizer has none)."""
    rows: Any = field(default=None, compare=False)
    """The cached records this domain keeps (sorted int64 indices; see
    :func:`mixopt.data.subsample.subsample_domains`), or None for all of them."""
    _table: list[Any] = field(default_factory=list, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def capacity(self) -> int:
        """The most tokens any mixture may draw from this domain (its repetition cap)."""
        return int(self.num_tokens * self.spec.max_epochs)

    def table(self) -> pa.Table:
        """The token table, memory-mapped on first use and kept (not pickled)."""
        if not self._table:
            import pyarrow as pa

            with pa.memory_map(self.path) as source:
                whole = pa.ipc.open_stream(source).read_all()
            self._table.append(whole if self.rows is None else whole.take(pa.array(self.rows)))
        table: pa.Table = self._table[0]
        return table

    def text_hashes(self) -> np.ndarray:
        """Sorted 64-bit hashes of every string in the domain's records (see :func:`text_hash`),
        for finding evaluation items that also appear in training data."""
        import numpy as np

        hashes: np.ndarray = np.load(Path(self.path).parent / "texts.npy")
        return hashes

    def lengths(self) -> np.ndarray:
        """Tokens per record, as int64."""
        import numpy as np

        return np.asarray(self.table().column("length").to_numpy(), dtype=np.int64)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_table"] = []
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


def tokenize_domains(
    specs: Sequence[DomainSpec],
    tokenizer: Any,
    cache_dir: str | Path | None = None,
    stage: str | Path | None = None,
    events: EventLog | None = None,
    carve: bool = False,
) -> tuple[TokenizedDomain, ...]:
    """Tokenize (or fetch from the cache) every domain; report all domains' problems at once.

    With ``stage``, new entries are written there instead of into the cache, and enter it only
    through :func:`publish` (so a run that fails its checks leaves the cache as it was).
    ``events`` gets ``tokenize_started`` and ``tokenize_done`` for each domain. ``carve``:
    each domain's held-out records (:mod:`mixopt.data.carve`) are set apart before
    tokenization; the domains returned are the pools without them (:func:`held_out_of`
    gives each pool's held-out records).
    """
    done: list[TokenizedDomain] = []
    problems: list[str] = []
    for spec in specs:
        try:
            done.append(tokenize_domain(spec, tokenizer, cache_dir, stage, events, carve))
        except MixoptError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfigError(problems)
    return tuple(done)


def tokenize_domain(
    spec: DomainSpec,
    tokenizer: Any,
    cache_dir: str | Path | None = None,
    stage: str | Path | None = None,
    events: EventLog | None = None,
    carve: bool = False,
) -> TokenizedDomain:
    """Tokenize one domain, or return its cached tokens when this content was seen before;
    ``carve``: its pool without the held-out records (see :func:`tokenize_domains`)."""
    started = time.monotonic()
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    key = _cache_key(spec, tokenizer, carve)
    entry = root / "tokenized" / key[:2] / key
    meta_path = entry / "meta.json"
    if stage is not None and not meta_path.exists():
        root = Path(stage)
        entry = root / "tokenized" / key[:2] / key
        meta_path = entry / "meta.json"
    cached = meta_path.exists()  # in the cache, or staged by an earlier check of this run
    if events is not None:
        message = None if cached else f"tokenizing {spec.name}..."
        events.emit("tokenize_started", message, domain=spec.name, cached=cached)
    if cached:
        meta = json.loads(meta_path.read_text())
        domain = TokenizedDomain(
            spec,
            meta["format"],
            str(entry / "tokens.arrow"),
            meta["num_records"],
            meta["num_tokens"],
            meta["eos_id"],
        )
    else:
        domain = _tokenize(spec, tokenizer, root, key, entry, carve)
    if events is not None:
        how = "cached" if cached else f"tokenized in {time.monotonic() - started:.1f}s"
        events.emit(
            "tokenize_done",
            f"{spec.name}: {domain.num_records:,} records, {domain.num_tokens:,} tokens ({how})",
            domain=spec.name,
            records=domain.num_records,
            tokens=domain.num_tokens,
            cached=cached,
            seconds=round(time.monotonic() - started, 3),
        )
    return domain


def _tokenize(
    spec: DomainSpec, tokenizer: Any, root: Path, key: str, entry: Path, carve: bool = False
) -> TokenizedDomain:
    records = load_records(spec, cache_dir=str(root / "datasets"))
    if len(records) == 0:
        raise ConfigError(f"domain {spec.name!r}: no records")
    mismatch = count_problems(spec, len(records))
    if mismatch:
        raise ConfigError(mismatch)
    fmt = resolve_format(spec, records.column_names)
    if carve:
        # before tokenization: the pool's tokens, counts and text hashes never hold a carved record
        from mixopt.data.carve import carved_rows

        held, kept = carved_rows(spec.name, len(records))
        carved = records.select(held)
        held_key = key[:55] + "-held-out"  # datasets' fingerprints are at most 64 characters
        _write_entry(
            spec,
            fmt,
            tokenizer,
            carved,
            entry / HELD_OUT,
            held_key,
            {"items": _item_hashes(carved)},
        )
        records = records.select(kept)
    return _write_entry(spec, fmt, tokenizer, records, entry, key)


def _write_entry(
    spec: DomainSpec,
    fmt: str,
    tokenizer: Any,
    records: Any,
    entry: Path,
    key: str,
    extra: dict[str, Any] | None = None,
) -> TokenizedDomain:
    """Tokenize ``records`` into ``entry``: tokens, text hashes (and ``extra`` arrays), meta last."""
    import numpy as np
    import pyarrow.compute as pc

    meta_path = entry / "meta.json"
    entry.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=entry, suffix=".arrow.tmp")
    os.close(fd)
    try:
        tokens = records.map(
            _Encoder(spec, fmt, tokenizer),
            batched=True,
            batch_size=_BATCH,
            with_indices=True,
            remove_columns=records.column_names,
            features=_features(fmt),
            cache_file_name=tmp,
            load_from_cache_file=False,
            new_fingerprint=key,
            desc=f"Tokenizing {spec.name}",
        )
        num_tokens = int(pc.sum(tokens.data.column("length")).as_py())  # arrow: no row iteration
        del tokens
        _save_hashes(entry / "texts.npy", records)
        for name, values in (extra or {}).items():
            with open(entry / f"{name}.npy", "wb") as fh:
                np.save(fh, values)
        os.replace(tmp, entry / "tokens.arrow")
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    eos = tokenizer.eos_token_id
    meta = {
        "format": fmt,
        "num_records": len(records),
        "num_tokens": num_tokens,
        "eos_id": eos,
        "source": spec.source,
        "tokenizer": getattr(tokenizer, "name_or_path", ""),
        "schema": _SCHEMA,
    }
    write_json_atomic(meta_path, meta)
    return TokenizedDomain(spec, fmt, str(entry / "tokens.arrow"), len(records), num_tokens, eos)


def held_out_of(pool: TokenizedDomain) -> TokenizedDomain:
    """The records carved out of a pool tokenized with ``carve`` (its entry holds them apart)."""
    entry = Path(pool.path).parent / HELD_OUT
    if not (entry / "meta.json").is_file():
        raise ConfigError(f"domain {pool.name!r}: its pool was tokenized without held-out records")
    meta = json.loads((entry / "meta.json").read_text())
    return TokenizedDomain(
        pool.spec,
        meta["format"],
        str(entry / "tokens.arrow"),
        meta["num_records"],
        meta["num_tokens"],
        meta["eos_id"],
    )


def publish(
    domains: Sequence[TokenizedDomain], stage: str | Path, cache_dir: str | Path | None = None
) -> tuple[TokenizedDomain, ...]:
    """Move the entries :func:`tokenize_domains` wrote to ``stage`` into the cache; the domains
    with their cached paths. Each entry appears whole, by one rename."""
    import dataclasses

    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    stage = Path(stage).resolve()
    out = []
    for d in domains:
        entry = Path(d.path).parent
        if stage not in entry.resolve().parents:
            out.append(d)
            continue
        final = root / entry.relative_to(stage)
        if not (final / "meta.json").exists():  # another run may have cached the same content
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{final.name}."))
            shutil.copytree(entry, tmp, dirs_exist_ok=True)
            try:
                os.replace(tmp, final)
            except OSError:  # cached meanwhile by another run: keep theirs
                shutil.rmtree(tmp, ignore_errors=True)
        out.append(dataclasses.replace(d, path=str(final / "tokens.arrow")))
    return tuple(out)


def text_hash(text: str) -> int | None:
    """A 64-bit hash of ``text`` with whitespace runs collapsed; None for short strings."""
    norm = " ".join(text.split())
    if len(norm) < MIN_HASHED_CHARS:
        return None
    return int.from_bytes(
        hashlib.blake2b(norm.encode(), digest_size=8).digest(), "little", signed=True
    )


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


def _item_hashes(records: Any) -> np.ndarray:
    """Per record (in order), the hash of its longest string, as the overlap check hashes an
    evaluation item (:mod:`mixopt.evaluators.overlap`); 0 where it is too short to compare."""
    import numpy as np

    out = []
    for batch in records.iter(batch_size=1000):
        columns = list(batch.values())
        for i in range(len(columns[0]) if columns else 0):
            texts = [s for c in columns for s in _strings(c[i])]
            out.append((text_hash(max(texts, key=len)) if texts else None) or 0)
    return np.array(out, dtype=np.int64)


def _save_hashes(path: Path, records: Any) -> None:
    import numpy as np

    hashes = {
        h
        for batch in records.iter(batch_size=_BATCH)
        for column in batch.values()
        for s in _strings(column)
        if (h := text_hash(s)) is not None
    }
    with open(path, "wb") as fh:
        np.save(fh, np.array(sorted(hashes), dtype=np.int64))


class _Encoder:
    """The ``datasets.map`` function: render a batch of records, tokenize it, mask the prompts."""

    def __init__(self, spec: DomainSpec, fmt: str, tokenizer: Any) -> None:
        self.spec, self.fmt, self.tokenizer = spec, fmt, tokenizer

    def __call__(self, batch: dict[str, list[Any]], indices: list[int]) -> dict[str, list[Any]]:
        import numpy as np

        texts, spans = render_batch(self.spec, self.fmt, batch, indices[0], self.tokenizer)
        enc = self.tokenizer(
            texts, add_special_tokens=True, return_offsets_mapping=spans is not None, verbose=False
        )
        eos = self.tokenizer.eos_token_id
        out: dict[str, list[Any]] = {"input_ids": [], "length": []}
        if spans is not None:
            out["loss_mask"] = []
        for i, ids in enumerate(enc["input_ids"]):
            # an end-of-sequence token separates records once they are packed together
            add_eos = eos is not None and (not ids or ids[-1] != eos)
            ids = [*ids, eos] if add_eos else list(ids)
            out["input_ids"].append(ids)
            out["length"].append(len(ids))
            if spans is not None:
                offsets = np.asarray(enc["offset_mapping"][i], dtype=np.int64).reshape(-1, 2)
                mask = np.zeros(len(offsets), dtype=np.int8)
                for start, end in spans[i]:
                    # a token carries loss when it starts inside a trained span
                    mask |= (
                        (offsets[:, 0] >= start)
                        & (offsets[:, 0] < end)
                        & (offsets[:, 1] > offsets[:, 0])
                    )
                out["loss_mask"].append([*mask.tolist(), 1] if add_eos else mask.tolist())
        return out


def _features(fmt: str) -> Any:
    from datasets import Features, List, Value

    cols = {"input_ids": List(Value("int32")), "length": Value("int32")}
    if fmt != "text":
        cols["loss_mask"] = List(Value("int8"))
    return Features(cols)


def _cache_key(spec: DomainSpec, tokenizer: Any, carve: bool = False) -> str:
    h = hashlib.sha256()
    if carve:  # a carved pool is another entry; without carving the key is what it always was
        from mixopt.data.carve import carving_rule

        h.update(json.dumps({"carve": carving_rule()}, sort_keys=True).encode())
    reading = {
        k: getattr(spec, k)
        for k in (
            "format",
            "text_field",
            "prompt_field",
            "completion_field",
            "messages_field",
            "sample_by",
        )
    }
    h.update(json.dumps({"schema": _SCHEMA, "reading": reading}, sort_keys=True).encode())
    h.update(tokenizer_fingerprint(tokenizer).encode())
    if spec.data is not None:
        h.update(json.dumps(list(spec.data), sort_keys=True, default=str).encode())
        return h.hexdigest()
    for path in expand_paths(spec):
        files = sorted(Path(path).rglob("*")) if os.path.isdir(path) else [Path(path)]
        for f in files:
            if f.is_file():
                h.update(f.suffix.encode())
                _hash_file(h, f)
    return h.hexdigest()


def _hash_file(h: Any, path: Path) -> None:
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
