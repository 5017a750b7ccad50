"""``yidi`` from a terminal: a connection error is one line and a non-zero exit, every command
has help text, and `yidi run`'s exports are lines a shell can source (runtime.cli, runtime.cli_errors)."""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys

import pytest

from runtime import cli
from runtime.cli_errors import run_env_lines


def _closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_kafka_that_is_not_there_is_one_line_and_exit_code_2(monkeypatch, capsys) -> None:
    address = f"127.0.0.1:{_closed_port()}"
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", address)
    assert cli.main(["clock", "advance", "3600"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        f"yidi clock: cannot reach Kafka at {address} — is `make run` running? `. var/run.env` sets the addresses"
    ]
    assert "Traceback" not in err


def test_a_mongodb_that_is_not_there_is_one_line_without_its_password(monkeypatch, capsys) -> None:
    monkeypatch.setenv(
        "MONGODB_URI", f"mongodb://clerk:s3cret@127.0.0.1:{_closed_port()}/?serverSelectionTimeoutMS=300"
    )
    assert cli.main(["clearing", "replay", "--month", "2026-10"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "cannot reach MongoDB at mongodb://…@127.0.0.1:" in err
    assert "s3cret" not in err and "clerk" not in err


def _commands() -> dict[str, argparse.ArgumentParser]:
    [subs] = [a for a in cli.build_parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(subs.choices)


def test_every_command_has_its_help_text(capsys) -> None:
    commands = _commands()
    assert {"run", "service", "clock", "keys", "party", "console", "clearing", "topics"} <= set(commands)
    for name, sub in commands.items():
        assert sub.description, f"yidi {name} has no description"
        with pytest.raises(SystemExit) as exit_:
            cli.main([name, "--help"])
        assert exit_.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith(f"usage: yidi {name}") and sub.description.split()[0] in out
    listing = subprocess.run([sys.executable, "-m", "runtime.cli", "--help"], capture_output=True, text=True)
    for name in commands:  # each listed with its one-line help
        assert any(line.strip().startswith(name) for line in listing.stdout.splitlines()), name


def test_the_run_exports_are_shell_lines_that_source_back() -> None:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:41234",
        "MONGODB_URI": "mongodb://127.0.0.1:41235",
        "YIDI_KEYS_DIR": "/srv/yidi keys",
        "YIDI_TOPIC_PREFIX": "",
        "HOME": "/root",
    }
    lines = run_env_lines(env)
    assert lines[0] == "export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:41234" and not any("HOME" in ln for ln in lines)
    script = "\n".join(lines) + '\nprintf "%s|%s|%s" "$YIDI_KEYS_DIR" "$MONGODB_URI" "${YIDI_TOPIC_PREFIX-unset}"'
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}).stdout
    assert out == "/srv/yidi keys|mongodb://127.0.0.1:41235|"
    path = subprocess.run(
        ["sh", "-c", "\n".join(lines) + '\nprintf "%s" "$PATH"'],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    ).stdout
    assert path == f"{os.path.dirname(sys.executable)}:/usr/bin:/bin"  # `yidi` found from the virtualenv
