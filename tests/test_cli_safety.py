"""The command line on hostile and faulty use: closed pipes, far dates, hostile evidence."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from exchange_tls.cli import main

HEADER = (
    "#Log-type: SMTP Send Protocol Log\n"
    "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,"
    "remote-endpoint,event,data,context\n"
)


def hostile_log(folder: Path) -> None:
    """Write a send log whose connector name carries a terminal escape and an RTL override."""
    name = "Out\x1b[2J\u202eevil\u009b"
    rows = [
        "+,,",
        ">,STARTTLS,",
        "*,,TLS negotiation failed with error IllegalMessage",
        "-,,Local",
    ]
    (folder / "SEND20240601-1.LOG").write_text(
        HEADER
        + "".join(
            f"2024-06-01T10:00:0{index}.000Z,{name},08DC8A0000000001,{index},"
            f"10.0.0.5:40000,203.0.113.25:25,{row}\n"
            for index, row in enumerate(rows)
        ),
        encoding="utf-8",
    )


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """Output piped into a reader that stops early ('| head') ends without a traceback."""
    process = subprocess.Popen(
        [sys.executable, "-m", "exchange_tls", "rules"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    process.stdout.read(10)
    process.stdout.close()
    _, err = process.communicate(timeout=60)
    assert b"Traceback" not in err
    assert b"BrokenPipeError" not in err


@pytest.mark.parametrize("now", ["9999-12-31", "0001-01-01"])
def test_far_dates_for_now_give_a_diagnosis(now: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--now at the ends of the calendar diagnoses the example without a traceback."""
    assert main(["diagnose", "--now", now]) == 1
    assert "Traceback" not in capsys.readouterr().err


def test_hostile_evidence_is_inert_in_text_json_and_markdown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Escape sequences and reordering characters from evidence are shown, never sent."""
    hostile_log(tmp_path)
    for form in ("text", "json", "markdown"):
        assert main(["diagnose", str(tmp_path), "--format", form]) == 1
        out = capsys.readouterr().out
        assert "\x1b" not in out
        assert "\u202e" not in out
        assert "\u009b" not in out
        if form == "json":
            names = [f["subject"] for f in json.loads(out)["findings"]]
            assert names == ["Out\x1b[2J\u202eevil\u009b: IllegalMessage"]
        elif form == "text":
            assert "Out\\x1b[2J\\u202eevil\\x9b" in out
        else:  # Markdown escapes the backslashes and brackets of the visible escapes too
            assert "Out\\\\x1b\\[2J\\\\u202eevil\\\\x9b" in out
