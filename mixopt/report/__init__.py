"""The study report: an HTML page with plots, written to ``OUT/report/`` (``mixopt report OUT``,
and at the end of every search)."""

from __future__ import annotations

from mixopt.report.data import ReportData, gather
from mixopt.report.page import REPORT_DIR, write_report

__all__ = ["REPORT_DIR", "ReportData", "gather", "write_report"]
