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


@pytest.mark.parametrize("where", ["examples", "."])
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # jupyter_client's own, not ours
def test_example_notebook_runs_in_a_fresh_kernel(where: str) -> None:
    """examples/explore-logs.ipynb runs in a fresh Jupyter kernel from examples/ and the root."""
    nbclient = pytest.importorskip("nbclient", reason="the test extra installs nbclient")
    nbformat = pytest.importorskip("nbformat", reason="the test extra installs nbformat")
    notebook = nbformat.read(ROOT / "examples" / "explore-logs.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": ROOT / where}}
    )
    client.execute()
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert len(code) >= 8
    assert not [o for cell in code for o in cell.outputs if o.output_type == "error"]
    assert any("text/html" in o.get("data", {}) for cell in code for o in cell.outputs)


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
    page = exchange_tls.ReadResult(items=[certificate])._repr_html_()
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
