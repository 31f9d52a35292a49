"""Helpers for tests, examples and offline demos: tiny tokenizers, synthetic domain data,
and the contract checks a plug-in's own tests run (:func:`check_evaluator`,
:func:`check_plan`, :func:`check_sampler`).

Nothing here downloads anything; everything is built from local text.
"""

from __future__ import annotations

from mixopt.testing.checks import ContractError, check_evaluator, check_plan, check_sampler
from mixopt.testing.corpus import (
    DATABASES,
    DOMAIN_KINDS,
    make_heldout,
    make_records,
    make_sql_database,
    sql_record,
    write_domains,
)
from mixopt.testing.tokenizer import CHAT_TEMPLATE, build_tokenizer

__all__ = [
    "CHAT_TEMPLATE",
    "DATABASES",
    "DOMAIN_KINDS",
    "ContractError",
    "build_tokenizer",
    "check_evaluator",
    "check_plan",
    "check_sampler",
    "make_heldout",
    "make_records",
    "make_sql_database",
    "sql_record",
    "write_domains",
]
