"""Exports: a mixture materialized at a budget for the real fine-tune (``mixopt export``,
:func:`export_mixture`), its records (:mod:`.records`) and the configs that train each tool
on exactly them (:mod:`.tool_configs`)."""

from __future__ import annotations

from mixopt.export.api import export_mixture
from mixopt.export.spec import ExportSpec

__all__ = ["ExportSpec", "export_mixture"]
