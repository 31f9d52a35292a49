"""Helpers for tests, examples and offline demos: tiny tokenizers, synthetic domain data,
and the contract checks a plug-in's own tests run, one per kind of plug-in
(:func:`check_evaluator`, :func:`check_plan`, :func:`check_sampler`, :func:`check_scorer`,
:func:`check_clusterer`).

Nothing here downloads anything; everything is built from local text.
"""

from __future__ import annotations

from mixopt.testing.checks import ContractError, check_evaluator, check_plan, check_sampler
from mixopt.testing.clusterer_checks import check_clusterer
from mixopt.testing.corpus import (
    DATABASES,
    DOMAIN_KINDS,
    make_heldout,
    make_records,
    make_sql_database,
    sql_record,
    write_domains,
)
from mixopt.testing.scorer_checks import check_scorer
from mixopt.testing.tokenizer import CHAT_TEMPLATE, build_tokenizer

__all__ = [
    "CHAT_TEMPLATE",
    "DATABASES",
    "DOMAIN_KINDS",
    "ContractError",
    "build_tokenizer",
    "check_clusterer",
    "check_evaluator",
    "check_plan",
    "check_sampler",
    "check_scorer",
    "make_heldout",
    "make_records",
    "make_sql_database",
    "sql_record",
    "write_domains",
]
