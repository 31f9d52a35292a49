"""Helpers for tests, examples and offline demos: tiny tokenizers, synthetic domain data.

Nothing here downloads anything; everything is built from local text.
"""

from __future__ import annotations

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
    "build_tokenizer",
    "make_heldout",
    "make_records",
    "make_sql_database",
    "sql_record",
    "write_domains",
]
