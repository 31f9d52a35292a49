"""One small registry for pluggable parts: built-ins by name, user code as ``module:attr``,
third-party packages through an entry-point group.

Every plug-in kind has the same shape: a ``Protocol`` with its contract in the kind's
``_base.py``, one :class:`Registry` of its parts, a contract check in :mod:`mixopt.testing`,
and what a part can do declared by the part itself (``capabilities`` below), all listed by
``mixopt ls``."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from importlib import metadata
from typing import Any, Generic, TypeVar

from mixopt.errors import ConfigError, did_you_mean

__all__ = ["Registry", "first_doc_line", "import_object"]

T = TypeVar("T")


def import_object(ref: str, what: str = "object") -> Any:
    """Import ``module:attr`` (``attr`` may be dotted); a one-line :class:`ConfigError` if it fails."""
    module_name, _, attr = ref.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"{what} {ref!r}: expected 'module:attr'")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"{what} {ref!r}: cannot import module {module_name!r} ({exc})") from None
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"{what} {ref!r}: module {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


def first_doc_line(obj: Any) -> str:
    """The first sentence of ``obj``'s docstring, on one line ("" without one)."""
    doc = " ".join((obj.__doc__ or "").split())
    end = doc.find(". ")
    return doc if end < 0 else doc[: end + 1]


class Registry(Generic[T]):
    """Named factories of one kind of part.

    ``get(name)`` looks in the built-ins, then in the entry-point group, then (for names with
    a colon) imports ``module:attr``; an unknown name suggests the closest known one.
    ``capabilities(part)``, where given, says in a few words what a part declares it can do
    (``one objective only``): :meth:`describe` shows it after the part's description.
    """

    def __init__(
        self,
        kind: str,
        group: str,
        builtins: Mapping[str, Callable[..., T]],
        capabilities: Callable[[Callable[..., T]], Sequence[str]] | None = None,
    ) -> None:
        self.kind, self.group, self._builtins = kind, group, dict(builtins)
        self._capabilities = capabilities

    def builtins(self) -> dict[str, Callable[..., T]]:
        """The built-in parts by name (nothing installed is loaded)."""
        return dict(self._builtins)

    def names(self) -> list[str]:
        """Built-in and installed names, sorted."""
        return sorted(
            {*self._builtins, *(ep.name for ep in metadata.entry_points(group=self.group))}
        )

    def canonical(self, name: str) -> str:
        """The built-in's own spelling of ``name`` when they differ only in case, else ``name``."""
        if name in self._builtins:
            return name
        return next((b for b in self._builtins if b.lower() == str(name).lower()), name)

    def describe(self) -> list[tuple[str, str]]:
        """(name, one-line description) of each part: built-ins from their docstrings, installed
        ones by where they come from (nothing is imported)."""
        out = [(name, self._line(obj)) for name, obj in sorted(self._builtins.items())]
        for ep in sorted(metadata.entry_points(group=self.group), key=lambda e: e.name):
            if ep.name not in self._builtins:
                dist = getattr(ep, "dist", None)
                source = f" from {dist.name}" if dist is not None else ""
                out.append((ep.name, f"plugin {ep.value}{source}"))
        return out

    def _line(self, part: Callable[..., T]) -> str:
        line = first_doc_line(part)
        declared = list(self._capabilities(part)) if self._capabilities is not None else []
        return f"{line.rstrip('.')}; {', '.join(declared)}" if declared else line

    def get(self, name: str) -> Callable[..., T]:
        """The part named ``name``; a built-in's name is matched whatever its case (``TPE``)."""
        builtin = self.canonical(name)
        if builtin in self._builtins:
            return self._builtins[builtin]
        for ep in metadata.entry_points(group=self.group, name=name):
            loaded: Callable[..., T] = ep.load()
            return loaded
        if ":" in name:
            obj: Callable[..., T] = import_object(name, self.kind)
            return obj
        raise ConfigError(
            f"Unknown {self.kind} {name!r}.{did_you_mean(name, self.names())} "
            f"Known: {', '.join(self.names())}; or give your own as 'module:attr'"
        )
