"""Executors: what runs a study's jobs. ``ray`` (Ray Tune, the default) and ``inprocess``."""

from __future__ import annotations

from mixopt.search.executors._base import FINISHED, Executor, Job, JobSource, Outcome

__all__ = ["FINISHED", "Executor", "Job", "JobSource", "Outcome"]
