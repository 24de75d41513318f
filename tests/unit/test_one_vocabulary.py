"""Languages and aggregating functions are written once, in dtrace_lexer.vocabulary."""

from __future__ import annotations

from dtrace_lexer.vocabulary import LANGUAGES as VOCABULARY
from ide.tracing import bpftrace_ast, scriptinfo
from ide.tracing.model import DISTRIBUTION_FUNCTIONS, LANGUAGE_CHOICES, LANGUAGES


def test_the_model_names_the_vocabulary_s_languages() -> None:
    assert tuple(VOCABULARY) == LANGUAGES
    assert LANGUAGE_CHOICES == '"d" or "bpftrace"'


def test_aggregating_functions_come_from_the_vocabulary() -> None:
    for name, language in VOCABULARY.items():
        assert set(scriptinfo.AGGREGATING[name]) == set(language.aggregations)
    assert frozenset(VOCABULARY["bpftrace"].aggregations) == bpftrace_ast.AGGREGATING


def test_every_distribution_is_an_aggregating_function_of_some_language() -> None:
    known = {f for language in VOCABULARY.values() for f in language.aggregations}
    assert known >= DISTRIBUTION_FUNCTIONS
