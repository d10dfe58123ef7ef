"""Issue 25 item 6: ``--output`` writes a file whole or leaves the old one as it was."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from exchange_tls.cli import main

ROOT = Path(__file__).parent.parent
EXAMPLE = str(ROOT / "examples/kb4051498")


def test_output_replaces_the_file_whole_and_keeps_its_mode(tmp_path: Path) -> None:
    """A report written over an old one replaces it, keeps its mode and leaves no litter."""
    report = tmp_path / "report.html"
    report.write_text("OLD")
    report.chmod(0o640)
    assert main(["diagnose", EXAMPLE, "--format", "html", "-o", str(report)]) == 1
    assert report.read_text().startswith("<!DOCTYPE html>")
    assert report.stat().st_mode & 0o777 == 0o640
    assert [path.name for path in tmp_path.iterdir()] == ["report.html"]


def test_output_through_a_link_writes_the_file_it_names(tmp_path: Path) -> None:
    """A symbolic link given as the output stays a link; the file it names is replaced."""
    report = tmp_path / "report.txt"
    report.write_text("OLD")
    link = tmp_path / "latest.txt"
    link.symlink_to(report.name)
    main(["diagnose", EXAMPLE, "-o", str(link)])
    assert link.is_symlink()
    assert report.read_text().startswith("Verdict: problems")


def test_a_write_past_the_file_size_limit_leaves_the_old_report(tmp_path: Path) -> None:
    """Under ``ulimit -f`` the old report stays whole: exit 2, one line naming the file."""
    report = tmp_path / "report.html"
    report.write_text("OLD")

    def limit_file_size() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    command = [sys.executable, "-B", "-m", "exchange_tls", "diagnose", EXAMPLE]
    done = subprocess.run(  # noqa: S603 -- our own interpreter and package
        [*command, "--format", "html", "-o", str(report)],
        capture_output=True,
        text=True,
        preexec_fn=limit_file_size,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"exchange-tls: error: cannot write {report}: File too large; the old file is unchanged"
    ]
    assert report.read_text() == "OLD"
    assert [path.name for path in tmp_path.iterdir()] == ["report.html"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_device_that_refuses_the_write_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """/dev/full is written in place (never renamed over); its refusal is exit 2, one line."""
    assert main(["diagnose", EXAMPLE, "-o", "/dev/full"]) == 2
    error = capsys.readouterr().err
    assert error == "exchange-tls: error: cannot write /dev/full: No space left on device\n"


def test_an_output_folder_that_does_not_exist_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A report into a missing folder says so; exit 2."""
    target = tmp_path / "missing" / "report.txt"
    assert main(["diagnose", EXAMPLE, "-o", str(target)]) == 2
    error = capsys.readouterr().err
    assert f"cannot write {target}: No such file or directory; nothing was written" in error
