import subprocess
import sys

import pytest

import exchange_tls
from exchange_tls.__main__ import describe_example, main
from exchange_tls.bundled import example_files


def test_version_is_a_string() -> None:
    """The package exposes its version."""
    assert isinstance(exchange_tls.__version__, str)
    assert exchange_tls.__version__[0].isdigit()


def test_public_names_are_all_importable() -> None:
    """Every name in __all__ exists on the package."""
    for name in exchange_tls.__all__:
        assert hasattr(exchange_tls, name), name


def test_bundled_example_has_the_four_kinds_of_evidence() -> None:
    """The KB 4051498 bundle holds a send log, certificates, a queue and a connector."""
    names = [entry.name for entry in example_files()]
    assert names == [
        "SEND2017100704-1.LOG",
        "get-exchangecertificate-fl.txt",
        "get-queue-fl.txt",
        "get-sendconnector-fl.txt",
    ]


def test_unknown_bundled_example_is_refused() -> None:
    """Asking for a bundle that does not exist is a ValueError."""
    with pytest.raises(ValueError, match="no bundled example"):
        example_files("nope")


def test_describe_example_reports_each_file_encoding() -> None:
    """The description names each file's encoding as decoded."""
    text = describe_example()
    assert "SEND2017100704-1.LOG: utf-8 with BOM, CRLF line endings, 28 lines" in text
    assert "get-exchangecertificate-fl.txt: utf-16-le with BOM, CRLF line endings" in text


def test_describe_example_diagnoses_kb4051498() -> None:
    """The description ends in the KB 4051498 finding, its evidence lines and its fix."""
    text = describe_example()
    assert "ERROR certificate-not-enabled-for-smtp" in text
    assert (
        "SEND2017100704-1.LOG:27: connector 'Outbound to Office 365' failed the TLS handshake"
        in text
    )
    assert (
        "[fix] Enable-ExchangeCertificate -Thumbprint '054FB2800CE2E07A56DE07920D3C9847D3058CE1' "
        "-Services POP,IIS,SMTP"
    ) in text


def test_main_refuses_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    """Unexpected arguments give a usage line and exit status 2."""
    assert main(["--bogus"]) == 2
    assert "usage" in capsys.readouterr().err


def test_python_dash_m_runs() -> None:
    """Running ``python -m exchange_tls`` in a fresh interpreter exits 0."""
    result = subprocess.run(
        [sys.executable, "-m", "exchange_tls"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "kb4051498" in result.stdout
