"""The HTML report: content, escaping, grouping, and the same findings as the JSON.

The browser tests open the report from disk in headless Chromium (Debian's ``chromium``,
driven by Playwright for Python). They are skipped, saying why, only where Chromium or
Playwright is not installed; ``.ci/run`` installs both. Screenshots go to the folder in
``EXCHANGE_TLS_ARTIFACTS`` (CI prints it), else to the test's temporary folder.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exchange_tls import Evidence, diagnose, load_evidence
from exchange_tls.cli import main
from exchange_tls.views import group_by_server, timeline_svg
from exchange_tls.views.headline import evidence_more
from exchange_tls.views.html import SHOWN_EVIDENCE
from tests.builders import load_generator

ROOT = Path(__file__).parent.parent
BUNDLED = ROOT / "exchange_tls" / "bundled" / "kb4051498"
T = "054FB2800CE2E07A56DE07920D3C9847D3058CE1"
HEADER = (
    "#Software: Microsoft Exchange Server\n#Version: 15.0.0.0\n"
    "#Log-type: SMTP Send Protocol Log\n#Date: 2024-06-01T00:00:00.000Z\n"
    "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,"
    "remote-endpoint,event,data,context\n"
)
#: Text a page must show, never act on: markup, both quotes, and control characters.
HOSTILE = '<script>window.pwned=1</script><img src=x onerror="window.pwned=2">\'\x07\x1b[2J\u202e'


def csv_field(text: str) -> str:
    """Quote a field the way Exchange's CSV writer does."""
    return '"' + text.replace('"', '""') + '"' if "," in text or '"' in text else text


def hostile_evidence(folder: Path) -> Evidence:
    """Write a send log, certificates and a queue full of hostile text, and load them."""
    folder = folder / "evidence"
    folder.mkdir()
    connector = csv_field("Out " + HOSTILE)
    body = [
        "+,,",
        ">,EHLO mail.contoso.com,",
        "<,250 STARTTLS,",
        ">,STARTTLS,",
        "<,220 2.0.0 Ready,",
        "*,,Sending certificate",
        f"*,{csv_field('CN=' + HOSTILE)},Certificate subject",
        f"*,{'C' * 40},Certificate thumbprint",
        "*,,TLS negotiation failed with error UnknownCredentials",
        "-,,Local",
    ]
    rows = [
        f"2024-06-01T10:00:{index:02d}.000Z,{connector},08DC000000000001,{index},"
        f"10.0.0.1:2525,192.0.2.25:25,{row}"
        for index, row in enumerate(body)
    ]
    (folder / "SEND2024060110-1.LOG").write_text(HEADER + "\n".join(rows) + "\n", "utf-8")
    (folder / "get-exchangecertificate-fl.txt").write_text(
        f"Thumbprint : {'C' * 40}\nServices : IIS\nSubject : CN={HOSTILE}\n", "utf-8"
    )
    (folder / "get-queue-fl.txt").write_text(
        "Identity : EX01\\9\nStatus : Retry\nNextHopDomain : <b>fabrikam</b>.example\n"
        f"LastError : 451 4.4.0 {HOSTILE}\n",
        "utf-8",
    )
    return load_evidence(folder)


@pytest.fixture
def kb_evidence() -> Evidence:
    """Return the bundled KB 4051498 evidence."""
    return load_evidence(BUNDLED, date_order="MDY")


# -- the page, without a browser ----------------------------------------------------------------


def test_report_is_one_file_with_no_network_access(kb_evidence: Evidence) -> None:
    """The report loads nothing: no src or href to another place, and a CSP that forbids it."""
    page = diagnose(kb_evidence).to_html(kb_evidence)
    assert page.startswith("<!DOCTYPE html>")
    assert "default-src 'none'" in page
    assert not re.search(r"(src|href)\s*=", page, re.IGNORECASE)
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in page


def test_report_holds_verdict_finding_evidence_and_fix(kb_evidence: Evidence) -> None:
    """The KB 4051498 report shows the verdict, the finding under EX01, its lines and the fix."""
    page = diagnose(kb_evidence).to_html(kb_evidence)
    assert '<span class="verdict-value">problems</span>' in page
    assert "Server EX01 (1 finding)" in page
    assert 'data-rule="certificate-not-enabled-for-smtp"' in page
    assert "SEND2017100704-1.LOG:27" in page
    assert "TLS negotiation failed with error UnknownCredentials" in page
    assert f"Enable-ExchangeCertificate -Thumbprint &#x27;{T}&#x27;" in page
    # The fix, the finding's whole plan, and the page's whole script.
    assert page.count('class="copy"') == 3


def test_certificate_exchange_selects_is_marked(kb_evidence: Evidence) -> None:
    """The inventory marks the certificate Exchange selects for the send connector, only it."""
    page = diagnose(kb_evidence).to_html(kb_evidence)
    [selected] = re.findall(r'<tr class="selected">.*?</tr>', page)
    assert T in selected
    assert "send connector &#x27;Outbound to Office 365&#x27;" in selected


def test_timeline_counts_outcomes_per_connector_and_hour(kb_evidence: Evidence) -> None:
    """The timeline has one failed cell for the KB example's one failing session."""
    svg = timeline_svg(kb_evidence.sessions)
    assert svg.count('class="cell failed"') == 1
    assert "Outbound to Office 365, 2017-10-07 04:00 UTC: 1 failed" in svg
    assert "One column per hour (UTC)." in svg
    assert timeline_svg([]) == "<p><em>No protocol-log sessions: no timeline.</em></p>"


def test_timeline_over_years_keeps_only_the_hours_with_sessions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Sessions years apart give a column per hour with sessions, not one per hour between."""
    monkeypatch.chdir(ROOT)
    evidence = load_evidence("examples", date_order="MDY")
    svg = timeline_svg(evidence.sessions)
    hours = {s.start.replace(minute=0, second=0, microsecond=0) for s in evidence.sessions}
    assert f"with sessions: {len(hours)} of the " in svg
    assert svg.count("<rect ") == len(
        {
            (s.connector_id, s.start.replace(minute=0, second=0, microsecond=0))
            for s in evidence.sessions
        }
    )


def test_findings_without_a_named_server_are_one_group() -> None:
    """A send log names no server: its findings are in one group that says so."""
    [log] = (ROOT / "examples" / "tls-protocol-mismatch").glob("SEND*.LOG")
    evidence = load_evidence(log)
    [(server, findings)] = group_by_server(diagnose(evidence), evidence)
    assert server == "Server not named in the evidence"
    assert len(findings) == 1


def test_report_without_evidence_still_has_the_findings(kb_evidence: Evidence) -> None:
    """Diagnosis.to_html() alone has the verdict and findings, and says what needs evidence."""
    page = diagnose(kb_evidence).to_html()
    assert 'data-rule="certificate-not-enabled-for-smtp"' in page
    assert "Give the evidence to draw the timeline." in page


def test_json_and_html_carry_the_same_findings(tmp_path: Path) -> None:
    """Every example: the HTML report holds each finding of the JSON, with all its evidence."""
    for example in sorted(p for p in (ROOT / "examples").iterdir() if (p / "EXPECTED.md").exists()):
        json_path, html_path = tmp_path / "d.json", tmp_path / "d.html"
        main(["diagnose", str(example), "--format", "json", "-o", str(json_path)])
        main(["diagnose", str(example), "--format", "html", "-o", str(html_path)])
        document = json.loads(json_path.read_text("utf-8"))
        page = html_path.read_text("utf-8")
        rules = re.findall(r'<article class="finding" id="finding-\d+" data-rule="([^"]+)"', page)
        assert sorted(rules) == sorted(f["rule_id"] for f in document["findings"]), example
        evidence_rows = page.count("<tr><td><code>")
        shown = [min(len(f["evidence"]), SHOWN_EVIDENCE) for f in document["findings"]]
        assert evidence_rows == sum(shown), example
        for finding in document["findings"]:
            for ref in finding["evidence"][:SHOWN_EVIDENCE]:
                assert html.escape(ref["excerpt"]) in page


def test_hostile_evidence_is_escaped(tmp_path: Path) -> None:
    """Markup, quotes and control characters from evidence appear only escaped."""
    evidence = hostile_evidence(tmp_path)
    page = diagnose(evidence).to_html(evidence)
    assert page.count("<script>") == 1  # the page's own copy-button script
    assert "<img" not in page
    assert "<b>" not in page
    assert "\x07" not in page
    assert "\x1b" not in page
    assert "\u202e" not in page
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;" in page
    assert "\\x07\\x1b[2J\\u202e" in page


# -- the page, in a browser ---------------------------------------------------------------------

CHROMIUM = os.environ.get("EXCHANGE_TLS_CHROMIUM") or shutil.which("chromium") or ""
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def page(tmp_path: Path) -> Iterator[Any]:
    """Yield a Playwright page in headless Debian Chromium, with a fresh profile."""
    if not CHROMIUM:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium); no browser test")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright for Python is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=CHROMIUM,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1200, "height": 900},
        )
        try:
            yield browser.pages[0] if browser.pages else browser.new_page()
        finally:
            browser.close()


def artifacts(tmp_path: Path) -> Path:
    """Return the folder screenshots go to: CI's artifact folder, else the test's."""
    folder = Path(os.environ.get("EXCHANGE_TLS_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_browser_shows_the_kb4051498_report_and_copies_the_fix(
    page: Any, kb_evidence: Evidence, tmp_path: Path
) -> None:
    """Chromium opens the report from disk: verdict, finding, evidence line, fix; copy works."""
    report = tmp_path / "kb4051498.html"
    assert main(["diagnose", str(BUNDLED), "--date-order", "MDY", "-f", "html", "-o", str(report)])
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text))
    page.goto(report.as_uri())
    assert page.locator("#verdict .verdict-value").inner_text() == "problems"
    finding = page.locator('article[data-rule="certificate-not-enabled-for-smtp"]')
    assert "not enabled for SMTP" in finding.locator("h3").inner_text()
    finding.locator("details > summary").click()
    assert "TLS negotiation failed with error UnknownCredentials" in finding.inner_text()
    assert "SEND2017100704-1.LOG:27" in finding.inner_text()
    script = page.locator("#script-1").inner_text()
    assert f"Enable-ExchangeCertificate -Thumbprint '{T}' -Services 'SMTP'" in script
    button = finding.locator("button.copy").first
    button.click()
    # Waited for by selector: a string predicate is evaluated in the page, which the report's
    # Content-Security-Policy (no unsafe-eval) refuses whenever the first check fails.
    finding.locator('button.copy[data-target="fix-1"][data-copied]').wait_for(state="attached")
    assert button.get_attribute("data-copied") == "yes"
    assert button.inner_text() == "Copied"
    assert page.locator("svg.timeline rect.failed").count() == 1
    assert T in page.locator("table.certificates tr.selected").inner_text()
    page.screenshot(path=str(artifacts(tmp_path) / "kb4051498-report.png"), full_page=True)
    assert errors == []


def test_browser_shows_hostile_evidence_as_text_and_runs_no_script(
    page: Any, tmp_path: Path
) -> None:
    """Markup, quotes and control characters from evidence show as text, and no script of it runs."""
    evidence = hostile_evidence(tmp_path)
    report = tmp_path / "hostile.html"
    report.write_text(diagnose(evidence).to_html(evidence), "utf-8")
    page.goto(report.as_uri())
    assert page.evaluate("window.pwned") is None
    assert page.evaluate("document.scripts.length") == 1
    assert page.evaluate("document.images.length") == 0
    text = page.locator("body").inner_text()
    assert "<script>window.pwned=1</script>" in text
    assert 'onerror="window.pwned=2">\'' in text
    assert "\\x07\\x1b[2J\\u202e" in text
    _open_every_details(page)
    page.locator("button.copy").first.click()  # our own script still runs
    # Waited for by selector: a string predicate is evaluated in the page, which the report's
    # Content-Security-Policy (no unsafe-eval) refuses whenever the first check fails.
    page.locator("button.copy[data-copied]").first.wait_for(state="attached")
    assert page.locator("button.copy").first.get_attribute("data-copied") == "yes"
    page.screenshot(path=str(artifacts(tmp_path) / "hostile-report.png"), full_page=True)


def _report_file(tmp_path: Path, name: str, evidence: Evidence) -> Path:
    path = tmp_path / f"{name}.html"
    path.write_text(diagnose(evidence).to_html(evidence), "utf-8")
    return path


def _open_every_details(page: Any) -> None:
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")


def _bottom(locator: Any) -> float:
    box = locator.bounding_box()
    assert box is not None
    return float(box["y"] + box["height"])


def test_browser_first_screen_has_the_answer(page: Any, tmp_path: Path) -> None:
    """At 1280x800 the first screen shows verdict, title, connector, impact and the fix to copy."""
    report = tmp_path / "kb4051498.html"
    assert main(["diagnose", str(BUNDLED), "--date-order", "MDY", "-f", "html", "-o", str(report)])
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(report.as_uri())
    finding = page.locator('article[data-rule="certificate-not-enabled-for-smtp"]')
    fix = finding.locator("#fix-1")
    button = finding.locator('button.copy[data-target="fix-1"]')
    shown = {
        "verdict": page.locator("#verdict"),
        "title": finding.locator("h3"),
        "connector": finding.locator("p", has_text="Outbound to Office 365").first,
        "impact": finding.locator("dd", has_text="42 messages"),
        "fix": fix,
        "copy": button,
    }
    for what, locator in shown.items():
        assert locator.is_visible(), what
        assert _bottom(locator) <= 800, what
    assert "Verdict: problems" in shown["verdict"].inner_text()
    assert f"Enable-ExchangeCertificate -Thumbprint '{T}' -Services 'SMTP'" in fix.inner_text()
    button.click()
    # Waited for by selector: a string predicate is evaluated in the page, which the report's
    # Content-Security-Policy (no unsafe-eval) refuses whenever the first check fails.
    finding.locator('button.copy[data-target="fix-1"][data-copied]').wait_for(state="attached")
    assert button.get_attribute("data-copied") == "yes"
    page.screenshot(path=str(artifacts(tmp_path) / "kb4051498-first-screen.png"))


def long_string_evidence(folder: Path) -> Evidence:
    """Write a send log whose connector, certificate and error carry 50,000 unbroken characters."""
    folder = folder / "long"
    folder.mkdir()
    long = "A" * 50_000
    body = [
        "+,,",
        ">,EHLO mail.contoso.com,",
        "<,250 STARTTLS,",
        ">,STARTTLS,",
        "<,220 2.0.0 Ready,",
        "*,,Sending certificate",
        f"*,CN={long},Certificate subject",
        f"*,{'C' * 40},Certificate thumbprint",
        f"*,,TLS negotiation failed with error {long}",
        "-,,Local",
    ]
    rows = [
        f"2024-06-01T10:00:{index:02d}.000Z,Out{long},08DC000000000001,{index},"
        f"10.0.0.1:2525,192.0.2.25:25,{row}"
        for index, row in enumerate(body)
    ]
    (folder / "SEND2024060110-1.LOG").write_text(HEADER + "\n".join(rows) + "\n", "utf-8")
    (folder / "get-exchangecertificate-fl.txt").write_text(
        f"Thumbprint : {'C' * 40}\nServices : IIS\nSubject : CN={long}\n", "utf-8"
    )
    return load_evidence(folder)


def generated_evidence(folder: Path, *, files: int, megabytes: int) -> Evidence:
    """Generate the benchmarks' folder of send logs (seeded) and load it."""
    module = load_generator()
    module.generate(folder / "generated", files=files, megabytes=megabytes)
    return load_evidence(folder / "generated")


def test_browser_no_page_is_wider_than_a_phone(page: Any, tmp_path: Path) -> None:
    """At 390 px no report scrolls sideways, every fold open, even with 50,000-character words."""
    reports = {
        "kb4051498": _report_file(tmp_path, "kb", load_evidence(BUNDLED, date_order="MDY")),
        "hostile": _report_file(tmp_path, "hostile", hostile_evidence(tmp_path)),
        "long": _report_file(tmp_path, "long", long_string_evidence(tmp_path)),
        "generated": _report_file(
            tmp_path, "generated", generated_evidence(tmp_path, files=2, megabytes=1)
        ),
    }
    page.set_viewport_size({"width": 390, "height": 844})
    for name, report in reports.items():
        page.goto(report.as_uri())
        _open_every_details(page)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, name
        page.screenshot(path=str(artifacts(tmp_path) / f"{name}-390.png"), full_page=True)


def test_browser_a_generated_folder_is_a_few_screens(page: Any, tmp_path: Path) -> None:
    """Thousands of sessions and hundreds of failures: at most 1 MB and 10 screens at 1280 px."""
    evidence = generated_evidence(tmp_path, files=2, megabytes=2)
    diagnosis = diagnose(evidence)
    cited = sum(len(f.evidence) + f.evidence_omitted for f in diagnosis.findings)
    assert cited > 4 * SHOWN_EVIDENCE
    report = _report_file(tmp_path, "generated", evidence)
    assert report.stat().st_size <= 1_000_000
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(report.as_uri())
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height <= 10 * 800
    _open_every_details(page)
    text = page.locator("body").inner_text()
    assert evidence_more(diagnosis.findings[0], SHOWN_EVIDENCE) in text
    # The timeline's counts are the coverage's, every session counted once.
    table = page.locator("table.outcomes tfoot").inner_text().split()
    coverage = diagnosis.coverage
    assert table[1:4] == [
        str(coverage.send_sessions + coverage.receive_sessions),
        str(coverage.tls_succeeded),
        str(coverage.tls_failed),
    ]
    page.screenshot(path=str(artifacts(tmp_path) / "generated-1280.png"), full_page=True)


def test_browser_prints_without_cutting_pages(page: Any, tmp_path: Path) -> None:
    """Printed (Chromium's PDF), nothing is wider than the paper, and every fold is printed."""
    evidence = load_evidence(BUNDLED, date_order="MDY")
    report = _report_file(tmp_path, "kb", evidence)
    page.goto(report.as_uri())
    page.emulate_media(media="print")
    # A4 at 96 dpi, less Chromium's default margins: about 718 CSS pixels of line.
    page.set_viewport_size({"width": 718, "height": 1000})
    assert page.evaluate("document.documentElement.scrollWidth") <= 718
    assert page.locator("#coverage details table").first.is_visible()
    assert page.locator("button.copy").first.is_hidden()
    pdf = tmp_path / "kb4051498.pdf"
    page.pdf(path=str(pdf), format="A4")
    document = pdf.read_bytes()
    assert document.startswith(b"%PDF")
    assert (
        document.count(b"/Type /Page\n")
        + document.count(b"/Type /Page>")
        + len(re.findall(rb"/Type\s*/Page[^s]", document))
        >= 1
    )
    (artifacts(tmp_path) / "kb4051498.pdf").write_bytes(document)
