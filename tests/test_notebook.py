import json
import sys
from pathlib import Path

import pytest

import exchange_tls
from exchange_tls.notebook import to_dataframe

ROOT = Path(__file__).parent.parent
BUNDLED = ROOT / "exchange_tls" / "bundled" / "kb4051498"


@pytest.fixture
def evidence() -> exchange_tls.Evidence:
    """Return the bundled KB 4051498 evidence."""
    return exchange_tls.load_evidence(BUNDLED, date_order="MDY")


def test_example_notebook_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every code cell of examples/explore-logs.ipynb runs in order, as in Jupyter."""
    monkeypatch.chdir(ROOT)
    notebook = json.loads((ROOT / "examples/explore-logs.ipynb").read_text(encoding="utf-8"))
    namespace: dict[str, object] = {}
    cells = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert len(cells) >= 5
    for cell in cells:
        exec(compile("".join(cell["source"]), "explore-logs.ipynb", "exec"), namespace)  # noqa: S102 -- our own notebook


def test_html_views(evidence: exchange_tls.Evidence) -> None:
    """Diagnosis, findings, sessions and certificate lists render as HTML with their facts."""
    diagnosis = exchange_tls.diagnose(evidence)
    assert "certificate-not-enabled-for-smtp" in diagnosis._repr_html_()
    assert "Enable-ExchangeCertificate" in diagnosis.findings[0]._repr_html_()
    session_html = evidence.sessions[0]._repr_html_()
    assert "UnknownCredentials" in session_html
    assert "SEND2017100704-1.LOG:27" in session_html
    certificates = exchange_tls.read_certificates(BUNDLED / "get-exchangecertificate-fl.txt")
    assert "054FB2800CE2E07A56DE07920D3C9847D3058CE1" in certificates._repr_html_()
    assert "<table>" in certificates._repr_html_()


def test_html_escapes_the_evidence() -> None:
    """Text from the evidence is escaped, never injected into the page."""
    [certificate] = exchange_tls.parse_certificates(
        "Thumbprint : AB\nSubject : <script>alert(1)</script>\n"
    )
    page = exchange_tls.ReadResult([certificate])._repr_html_()
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def test_dataframes_of_every_kind(evidence: exchange_tls.Evidence) -> None:
    """Rows, sessions, certificates, queues and findings become DataFrames."""
    log = exchange_tls.read_protocol_log(BUNDLED / "SEND2017100704-1.LOG")
    assert len(log.to_dataframe()) == 23
    assert list(evidence.to_dataframe("sessions")["tls_error"]) == ["UnknownCredentials"]
    assert len(evidence.to_dataframe("certificates")) == 3
    assert list(evidence.to_dataframe("queues")["inner_error"]) == ["421 4.4.1"]
    assert list(exchange_tls.diagnose(evidence).to_dataframe()["rule_id"]) == [
        "certificate-not-enabled-for-smtp"
    ]
    with pytest.raises(ValueError, match="kind must be"):
        evidence.to_dataframe("connectors")


def test_missing_pandas_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without pandas, to_dataframe raises ImportError naming the extra."""
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match=r'pip install "exchange_tls\[pandas\]"'):
        to_dataframe([])
