"""The domains file: what each training domain is, where its records come from, and its limits.

``domains.json`` is a JSON list of domains (or ``{"domains": [...]}``). Each domain has a
``domain`` name and either inline ``data`` (the ``{"domain", "num", "data"}`` shape of the
mixture literature, where a record may be a plain string: a text record) or a ``path`` to
files. Unknown keys are errors, never ignored.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mixopt.errors import ConfigError, did_you_mean
from mixopt.io import is_url

__all__ = [
    "DEFAULT_MAX_EPOCHS",
    "FORMATS",
    "NAME_BYTES",
    "DomainSpec",
    "check_shares",
    "count_problems",
    "load_domains",
    "parse_domains",
    "read_domains",
    "read_domains_file",
]

# Repeating data up to ~4 epochs costs almost nothing against fresh data (Muennighoff et al.,
# "Scaling Data-Constrained Language Models", 2023); past that returns fall off quickly.
DEFAULT_MAX_EPOCHS = 4.0

FORMATS = ("auto", "text", "prompt_completion", "chat")
# no '/', and no leading '.' or '-': a name is never a path ('..', '/etc') nor an option
_NAME = re.compile(r"^\w[\w.\-]{0,63}$")
# and it names files (an export's domains/NAME.jsonl, written first as .NAME.jsonl.XXXXXXXX.tmp
# beside it): within the 255 bytes a file name may take, counted in UTF-8 as file systems do
NAME_BYTES = 255 - len("..jsonl.XXXXXXXX.tmp")


@dataclass(frozen=True)
class DomainSpec:
    """One training domain as the domains file describes it (nothing is loaded yet)."""

    name: str
    """Unique name: letters, digits, ``_``, ``.`` or ``-`` (starting with a letter, digit or ``_``),
    at most 64 characters and :data:`NAME_BYTES` (235) bytes in UTF-8."""
    data: tuple[Mapping[str, Any], ...] | None = field(default=None, repr=False)
    """Inline records, or None when the records live in ``paths``. A plain string given here
    is a text record: it is stored as ``{text_field: string}``."""
    paths: tuple[str, ...] = ()
    """Absolute file or folder paths (globs allowed): JSONL, JSON, Parquet, CSV, text, or a
    ``datasets.save_to_disk`` folder."""
    format: str = "auto"
    """``text``, ``prompt_completion``, ``chat``, or ``auto`` to detect it from the fields."""
    text_field: str = "text"
    """Field holding the text of ``text`` records."""
    prompt_field: str = "prompt"
    """Field holding the prompt of ``prompt_completion`` records (no loss on it)."""
    completion_field: str = "completion"
    """Field holding the completion of ``prompt_completion`` records."""
    messages_field: str = "messages"
    """Field holding the ``[{"role", "content"}]`` list of ``chat`` records."""
    sample_by: str = "line"
    """How plain-text files split into records: ``line``, ``paragraph`` or ``document``."""
    num: int | None = None
    """Expected number of records; checked against the data when given (inline data here,
    files when they are read)."""
    min_share: float = 0.0
    """Smallest share of the budget this domain may get."""
    max_share: float = 1.0
    """Largest share of the budget this domain may get."""
    fixed_share: float | None = None
    """A share that is not searched: every mixture gives this domain exactly this much."""
    max_epochs: float = DEFAULT_MAX_EPOCHS
    """Repetition cap: at most this many passes over the domain's tokens."""

    def __post_init__(self) -> None:
        problems = _check_spec(self)
        if problems:
            raise ConfigError(problems)
        if self.data is not None:
            # the research notes list records as plain strings: each is one text record
            records = tuple({self.text_field: r} if isinstance(r, str) else r for r in self.data)
            object.__setattr__(self, "data", records)

    @property
    def lower(self) -> float:
        """The share's lower bound, with ``fixed_share`` taken into account."""
        return self.min_share if self.fixed_share is None else self.fixed_share

    @property
    def upper(self) -> float:
        """The share's upper bound, with ``fixed_share`` taken into account."""
        return self.max_share if self.fixed_share is None else self.fixed_share

    @property
    def source(self) -> str:
        """Where the records come from, for tables and logs."""
        if self.data is not None:
            return f"inline ({len(self.data)} records)"
        return ", ".join(self.paths)

    def to_entry(self) -> dict[str, Any]:
        """This domain as a domains-file entry (inline records included): reading it back
        gives an equal spec."""
        entry: dict[str, Any] = {"domain": self.name}
        for key, attr in _KEYS.items():
            value = getattr(self, attr)
            if key == "domain" or value == _DEFAULTS[attr]:
                continue
            entry[key] = list(value) if isinstance(value, tuple) else value
        return entry

    def to_dict(self) -> dict[str, Any]:
        """Loggable form: everything but the inline records."""
        out = asdict(self)
        out["data"] = None if self.data is None else f"<{len(self.data)} inline records>"
        return out


def _check_spec(spec: DomainSpec) -> list[str]:
    where = f"domain {spec.name!r}"
    problems = []
    if not isinstance(spec.name, str) or not _NAME.fullmatch(spec.name):
        problems.append(
            f"{where}: name must be 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter, digit or '_'"
        )
    elif len(spec.name.encode("utf-8")) > NAME_BYTES:
        problems.append(
            f"{where}: name is {len(spec.name.encode('utf-8'))} bytes in UTF-8; at most "
            f"{NAME_BYTES} (it names files: NAME.jsonl, and file names hold 255 bytes)"
        )
    if (spec.data is None) == (not spec.paths):
        problems.append(f"{where}: give exactly one of 'data' (inline records) or 'path'")
    if spec.format not in FORMATS:
        problems.append(
            f"{where}: unknown format {spec.format!r}.{did_you_mean(spec.format, FORMATS)}"
            f" Formats: {', '.join(FORMATS)}"
        )
    if spec.sample_by not in ("line", "paragraph", "document"):
        problems.append(f"{where}: sample_by must be line, paragraph or document")
    for key in ("min_share", "max_share", "fixed_share"):
        value = getattr(spec, key)
        if value is not None and not (_is_number(value) and 0.0 <= value <= 1.0):
            problems.append(f"{where}: {key} must be a number in [0, 1], got {value!r}")
    if problems:
        return problems
    if spec.min_share > spec.max_share:
        problems.append(f"{where}: min_share {spec.min_share} is above max_share {spec.max_share}")
    if spec.fixed_share is not None and not spec.min_share <= spec.fixed_share <= spec.max_share:
        problems.append(
            f"{where}: fixed_share {spec.fixed_share} is outside "
            f"[min_share {spec.min_share}, max_share {spec.max_share}]"
        )
    if not (_is_number(spec.max_epochs) and spec.max_epochs > 0):
        problems.append(f"{where}: max_epochs must be a positive number, got {spec.max_epochs!r}")
    if spec.num is not None and not (isinstance(spec.num, int) and spec.num > 0):
        problems.append(f"{where}: num must be a positive integer, got {spec.num!r}")
    if spec.data is not None:
        problems.extend(_check_data(spec, where))
    return problems


def _check_data(spec: DomainSpec, where: str) -> list[str]:
    data = spec.data
    if isinstance(data, str | bytes | Mapping) or not isinstance(data, Sequence):
        return [f"{where}: 'data' must be a list of records"]
    if not data:
        return [f"{where}: 'data' is empty"]
    if not all(isinstance(r, Mapping | str) for r in data):
        return [f"{where}: every inline record must be a JSON object or a string (a text record)"]
    problems = []
    if spec.format not in ("auto", "text") and any(isinstance(r, str) for r in data):
        problems.append(
            f"{where}: plain-string records are text, but format is {spec.format!r}; "
            "give them as objects with the format's fields"
        )
    if isinstance(spec.num, int) and spec.num > 0:  # a bad num is reported on its own
        problems.extend(count_problems(spec, len(data)))
    return problems


def count_problems(spec: DomainSpec, records: int) -> list[str]:
    """The mismatch between the domain's ``num`` (if given) and the records its data holds."""
    if spec.num is None or spec.num == records:
        return []
    return [f"domain {spec.name!r}: 'num' is {spec.num} but the data has {records} records"]


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


_KEYS = {
    "domain": "name",
    "data": "data",
    "path": "paths",
    "format": "format",
    "text_field": "text_field",
    "prompt_field": "prompt_field",
    "completion_field": "completion_field",
    "messages_field": "messages_field",
    "sample_by": "sample_by",
    "num": "num",
    "min_share": "min_share",
    "max_share": "max_share",
    "fixed_share": "fixed_share",
    "max_epochs": "max_epochs",
}


_DEFAULTS = {
    f.name: (None if f.name == "paths" else f.default)
    for f in DomainSpec.__dataclass_fields__.values()
}
_DEFAULTS["paths"] = ()


def load_domains(path: str | Path) -> tuple[DomainSpec, ...]:
    """Read and validate a domains file; every problem found is reported at once."""
    return _all_or_nothing(*read_domains_file(path))


def parse_domains(
    raw: Any, base_dir: str | Path = ".", origin: str = "domains"
) -> tuple[DomainSpec, ...]:
    """Validate the parsed JSON of a domains file (relative paths resolve against ``base_dir``)."""
    return _all_or_nothing(*read_domains(raw, base_dir, origin))


def read_domains_file(
    path: str | Path, check_files: bool = False
) -> tuple[tuple[DomainSpec, ...], list[str]]:
    """:func:`read_domains` of a domains file (a file that cannot be read at all raises)."""
    from mixopt.io import read_json

    path = Path(path)
    raw = read_json(path, "domains file")
    return read_domains(raw, path.parent.resolve(), str(path), str(path.resolve()), check_files)


def read_domains(
    raw: Any,
    base_dir: str | Path = ".",
    origin: str = "domains",
    named_by: str | None = None,
    check_files: bool = False,
) -> tuple[tuple[DomainSpec, ...], list[str]]:
    """Every problem of a domains file, and the domains that can still be checked further
    (their data read and tokenized, so that one run reports those problems too): each entry
    that makes a spec (whose files exist, with ``check_files``), the first of each name.
    ``named_by``: the file whose relative paths these are, for the line about a missing one."""
    if isinstance(raw, Mapping):
        extra = sorted(set(raw) - {"domains"})
        if extra:
            raise ConfigError(
                f"{origin}: unknown top-level key {extra[0]!r}."
                + did_you_mean(extra[0], ["domains"])
            )
        raw = raw.get("domains")
    if not isinstance(raw, list) or not raw:
        raise ConfigError(
            f'{origin}: expected a non-empty list of domains (or {{"domains": [...]}})'
        )
    relative_to = None  # where relative paths were looked for, when files are checked
    if check_files:
        relative_to = (
            f"{named_by}, the file that names them" if named_by else str(Path(base_dir).resolve())
        )
    problems: list[str] = []
    specs: dict[str, DomainSpec] = {}
    usable: list[DomainSpec] = []
    every_entry = True
    named: set[str] = set()  # names of every entry, those with other problems too
    for i, entry in enumerate(raw):
        spec, found, readable = _parse_entry(entry, i, Path(base_dir), relative_to)
        problems.extend(f"{origin}: {p}" for p in found)
        every_entry = every_entry and spec is not None
        name = entry.get("domain") if isinstance(entry, Mapping) else None
        if isinstance(name, str) and name in named:
            problems.append(f"{origin}: domain {name!r} is listed twice")
        elif spec is not None and spec.name not in specs:
            specs[spec.name] = spec
            usable.extend([spec] if readable else [])
        if isinstance(name, str):
            named.add(name)
    if every_entry:  # bounds of some domains alone say nothing about all of them
        problems.extend(f"{origin}: {p}" for p in check_shares(list(specs.values())))
    return tuple(usable), problems


def _all_or_nothing(specs: tuple[DomainSpec, ...], problems: list[str]) -> tuple[DomainSpec, ...]:
    if problems:
        raise ConfigError(problems)
    return specs


def check_shares(specs: Sequence[DomainSpec]) -> list[str]:
    """Problems that make every mixture of these domains violate a bound."""
    low = sum(s.lower for s in specs)
    high = sum(s.upper for s in specs)
    if low > 1 + 1e-9:
        return [f"the domains' minimum and fixed shares add up to {low:.4g}, above 1"]
    if high < 1 - 1e-9:
        return [f"the domains' maximum and fixed shares add up to {high:.4g}, below 1"]
    return []


# keys people write for a domains-file key (from other tools' formats), for did-you-mean
_KEY_ALIASES = {
    "name": "domain",
    "records": "data",
    "examples": "data",
    "samples": "data",
    "file": "path",
    "files": "path",
    "paths": "path",
    "count": "num",
    "size": "num",
    "weight": "fixed_share",
    "share": "fixed_share",
    "proportion": "fixed_share",
    "type": "format",
    "epochs": "max_epochs",
}


def _parse_entry(
    entry: Any, index: int, base_dir: Path, relative_to: str | None
) -> tuple[DomainSpec | None, list[str], bool]:
    """The entry's spec (None if it makes none), its problems, and whether its files exist;
    unknown keys are reported and the rest of the entry is still checked."""
    if not isinstance(entry, Mapping):
        return None, [f"domain #{index + 1}: expected an object, got {type(entry).__name__}"], False
    label = f"domain #{index + 1}" if "domain" not in entry else f"domain {entry['domain']!r}"
    problems = [
        f"{label}: unknown key {key!r}."
        + (did_you_mean(str(key), _KEYS, _KEY_ALIASES) or f" Valid keys: {', '.join(_KEYS)}.")
        for key in entry
        if key not in _KEYS
    ]
    if "domain" not in entry:
        return None, [*problems, f"{label}: missing 'domain' (the domain's name)"], False
    kwargs = {_KEYS[k]: v for k, v in entry.items() if k in _KEYS}
    missing: list[str] = []
    try:
        if "data" in kwargs:
            if not isinstance(kwargs["data"], list):
                raise ConfigError(f"{label}: 'data' must be a list of records")
            kwargs["data"] = tuple(kwargs["data"])
        if "paths" in kwargs:
            kwargs["paths"] = _resolve_paths(kwargs["paths"], base_dir, label)
            if relative_to is not None:
                missing = _missing_files(kwargs["paths"], entry["path"], label, relative_to)
        for key in ("format", "text_field", "prompt_field", "completion_field", "messages_field"):
            if key in kwargs and not isinstance(kwargs[key], str):
                raise ConfigError(f"{label}: {key} must be a string")
        return DomainSpec(**kwargs), [*problems, *missing], not missing
    except ConfigError as exc:
        return None, [*problems, *exc.problems, *missing], False
    except TypeError as exc:  # a wrongly typed value that the checks could not compare
        return None, [*problems, f"{label}: {exc}", *missing], False


def _missing_files(paths: tuple[str, ...], given: Any, label: str, relative_to: str) -> list[str]:
    """A line for each path (or glob) that names nothing, with where a relative one was looked for."""
    import glob

    written = [given] if isinstance(given, str) else list(given)
    problems = []
    for path, as_written in zip(paths, written, strict=True):
        if glob.glob(path, recursive=True) if glob.has_magic(path) else Path(path).exists():
            continue
        relative = not Path(as_written).expanduser().is_absolute()
        note = f" (paths are relative to {relative_to})" if relative else ""
        problems.append(f"{label}: no such file: {path}{note}")
    return problems


def _resolve_paths(value: Any, base_dir: Path, label: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(p, str) and p for p in items):
        raise ConfigError(f"{label}: 'path' must be a path or a non-empty list of paths")
    urls = [p for p in items if is_url(p)]
    if urls:
        raise ConfigError(
            f"{label}: 'path' must be local, got the URL {urls[0]!r}; download it first"
        )
    return tuple(str((base_dir / Path(p).expanduser()).resolve()) for p in items)
