"""Make the docs' screenshots from the current output: run it after changing a view.

    PYTHONPATH=. python docs/screenshots.py

It writes the bundled KB 4051498 example's HTML report, opens it in headless Chromium
(Playwright for Python, and Debian's ``chromium`` or ``EXCHANGE_TLS_CHROMIUM``), and saves
the first screen at 1280x800 and the page at 390 pixels (a phone) into ``docs/_static``.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from exchange_tls import diagnose, load_evidence
from exchange_tls.bundled import example_files

STATIC = Path(__file__).parent / "_static"
SHOTS = {"html-report.png": (1280, 800, False), "html-report-phone.png": (390, 844, False)}


def main() -> int:
    """Write the screenshots; return the exit status."""
    from playwright.sync_api import sync_playwright

    chromium = os.environ.get("EXCHANGE_TLS_CHROMIUM") or shutil.which("chromium")
    if not chromium:
        sys.stderr.write("Chromium is not installed (Debian: apt-get install chromium)\n")
        return 1
    evidence = load_evidence(example_files()[0].parent, date_order="MDY")
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.html"
        report.write_text(diagnose(evidence).to_html(evidence), "utf-8")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-gpu"]
            )
            for name, (width, height, full) in SHOTS.items():
                page = browser.new_page(viewport={"width": width, "height": height})
                page.goto(report.as_uri())
                page.screenshot(path=str(STATIC / name), full_page=full)
                sys.stdout.write(f"wrote {STATIC / name}\n")
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
