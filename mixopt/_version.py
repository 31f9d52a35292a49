"""The installed mixopt's version (public as ``mixopt.__version__``); a module of its own so
that the package's modules can record it without importing the package's top level."""

from __future__ import annotations

from importlib import metadata

__all__ = ["__version__"]

try:
    __version__ = metadata.version("mixopt")
except metadata.PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
