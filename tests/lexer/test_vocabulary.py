"""The vocabulary module and the editor's generated copy of it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from dtrace_lexer import vocabulary
from dtrace_lexer.vocabulary import BPFTRACE, D, editor_vocabulary, javascript_module

ROOT = Path(__file__).resolve().parents[2]
COMMITTED_JS = ROOT / "static" / "js" / "vocabulary.js"
REGENERATE = "python -m dtrace_lexer.vocabulary --js > static/js/vocabulary.js"


def test_committed_editor_vocabulary_matches_the_python_vocabulary() -> None:
    assert COMMITTED_JS.read_text(encoding="utf-8") == javascript_module(), (
        f"static/js/vocabulary.js has drifted from dtrace_lexer/vocabulary.py; run: {REGENERATE}"
    )


def test_javascript_module_exports_the_vocabulary_as_json() -> None:
    text = javascript_module()
    prefix = "export const VOCABULARY = "
    body = text[text.index(prefix) + len(prefix) :].rstrip().removesuffix(";")
    assert json.loads(body) == editor_vocabulary()


def test_command_line_prints_the_javascript_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dtrace_lexer.vocabulary", "--js"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert result.stdout == javascript_module()
    assert result.stderr == ""


def test_command_line_without_flags_prints_plain_json(capsys: object) -> None:
    assert vocabulary.main([]) == 0
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert json.loads(out) == editor_vocabulary()


def test_every_language_has_the_documented_keys() -> None:
    keys = {
        "keywords", "types", "builtins", "functions", "aggregations", "providers", "options",
        "providerAliases",
    }  # fmt: skip
    vocab = editor_vocabulary()
    assert set(vocab) == {"d", "bpftrace"}
    for language in vocab.values():
        assert keys <= set(language)


def test_every_word_has_a_one_line_description() -> None:
    for language in editor_vocabulary().values():
        for section in ("builtins", "providers", "options"):
            for name, doc in language[section].items():
                assert doc.strip() and "\n" not in doc, (section, name)
        for section in ("functions", "aggregations"):
            for name, entry in language[section].items():
                assert entry["doc"].strip() and "\n" not in entry["doc"], (section, name)
                assert entry["signature"].startswith(name + "("), (section, name)


def test_issue_words_are_in_the_vocabulary() -> None:
    for word in ("execname", "pid", "probefunc", "arg0", "arg9", "args", "curthread",
                 "timestamp", "walltimestamp"):  # fmt: skip
        assert word in D.builtins
    for word in ("comm", "tid", "nsecs", "retval"):
        assert word in BPFTRACE.builtins
    for word in ("count", "sum", "min", "max", "avg", "stddev", "quantize", "lquantize",
                 "llquantize"):  # fmt: skip
        assert word in D.aggregations
    for word in ("hist", "lhist", "stats"):
        assert word in BPFTRACE.aggregations
    for word in ("printf", "trace", "stack", "ustack", "copyinstr"):
        assert word in D.functions
    assert "str" in BPFTRACE.functions
    assert D.aggregations["lquantize"].signature == "lquantize(expr, lo, hi, step)"
    for word in ("syscall", "fbt", "profile", "tick", "BEGIN", "END"):
        assert word in D.providers
    for word in ("tracepoint", "kprobe", "uprobe", "interval"):
        assert word in BPFTRACE.providers
    assert "quiet" in D.options


def test_provider_aliases_point_at_known_providers() -> None:
    for alias, provider in BPFTRACE.provider_aliases.items():
        assert provider in BPFTRACE.providers, alias
