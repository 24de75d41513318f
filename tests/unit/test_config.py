"""Settings from the environment: DTRACE_IDE_<NAME> converted to each field's type."""

from __future__ import annotations

import pytest

from ide.config import Settings


def test_variables_are_converted_to_the_fields_types(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DTRACE_IDE_MAX_RUNS_TOTAL", "3")
    monkeypatch.setenv("DTRACE_IDE_MAX_DURATION_S", "90")
    monkeypatch.setenv("DTRACE_IDE_TLS", "true")
    monkeypatch.setenv("DTRACE_IDE_ALLOW_DESTRUCTIVE", "0")
    monkeypatch.setenv("DTRACE_IDE_TOKEN", "123")
    s = Settings.from_env()
    assert s.max_runs_total == 3
    assert s.max_duration_s == 90.0 and isinstance(s.max_duration_s, float)
    assert s.tls is True and s.allow_destructive is False
    assert s.token == "123"  # a str field keeps digits as text
    assert s.port == Settings().port  # untouched fields keep their defaults


def test_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DTRACE_IDE_PORT", "9000")
    assert Settings.from_env({"port": 9100}).port == 9100


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("DTRACE_IDE_PORT", "eighty"),
        ("DTRACE_IDE_TLS", "maybe"),
        ("DTRACE_IDE_MAX_RUNS_TOTAL", "2.5"),
    ],
)
def test_a_variable_that_does_not_convert_is_an_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, raw: str
) -> None:
    monkeypatch.setenv(name, raw)
    with pytest.raises(ValueError, match=f"^{name}: "):
        Settings.from_env()


def test_each_start_without_a_token_gets_a_new_random_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DTRACE_IDE_TOKEN", raising=False)
    first, second = Settings.from_env().token, Settings.from_env().token
    assert first != second and len(first) >= 24


def test_a_list_setting_is_read_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DTRACE_IDE_FLEET_TAGS", "db, eu-west ,")
    assert Settings.from_env().fleet_tags == ("db", "eu-west")
