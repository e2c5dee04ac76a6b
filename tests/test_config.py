"""`roadmap serve` settings: one flag per Config field, ROADMAP_* defaults, floors."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest

from server import config


def parse(*argv: str) -> config.Config:
    parser = argparse.ArgumentParser()
    config.add_arguments(parser)
    return config.from_namespace(parser.parse_args(argv))


def test_every_setting_is_a_flag_with_its_environment_name_in_the_help() -> None:
    parser = argparse.ArgumentParser()
    config.add_arguments(parser)
    text = parser.format_help()
    for field in dataclasses.fields(config.Config):
        assert "--" + field.name.replace("_", "-") in text
        assert "ROADMAP_" + field.name.upper() in text


def test_no_flags_give_the_defaults() -> None:
    assert parse() == config.Config()


def test_the_environment_sets_defaults_and_flags_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROADMAP_MAX_BATCH", "7")
    monkeypatch.setenv("ROADMAP_ENABLE_ADMIN", "true")
    monkeypatch.setenv("ROADMAP_TLS_CERT", "/etc/cert.pem")
    monkeypatch.setenv("ROADMAP_SOCKET_MODE", "0660")
    got = parse()
    assert (got.max_batch, got.enable_admin, got.tls_cert, got.socket_mode) == (
        7,
        True,
        Path("/etc/cert.pem"),
        0o660,
    )
    assert parse("--max-batch", "9").max_batch == 9


@pytest.mark.parametrize(
    ("env", "value", "message"),
    [
        ("ROADMAP_WORKERS", "abc", "expected a number, got 'abc'"),
        ("ROADMAP_GRACE_SECONDS", "-1", "must not be negative"),
        ("ROADMAP_LOG_LEVEL", "loud", "expected one of debug, info, warning, error"),
        ("ROADMAP_LISTEN", "nowhere", "expected HOST:PORT or unix:PATH"),
        ("ROADMAP_SOCKET_MODE", "999", "expected an octal file mode"),
    ],
)
def test_a_bad_environment_value_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: str,
    value: str,
    message: str,
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(SystemExit) as exit_:
        parse()
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_values_that_would_disable_the_server_are_raised_to_a_floor() -> None:
    got = parse("--workers", "0", "--threads", "0", "--max-evaluation-seconds", "0")
    assert (got.workers, got.threads, got.max_evaluation_seconds) == (1, 1, 0.01)
    assert parse("--engine-workers", "0").engine_workers == 0  # 0 means in-process
