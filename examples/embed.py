"""Embed exchange_tls in another tool: a JSON request in, the findings out.

    echo '{"paths": ["examples/kb4051498"], "date_order": "MDY"}' | python examples/embed.py

The request names evidence paths (files, folders, zip archives), and optionally
``date_order`` and ``now`` (ISO 8601). The answer is ``Diagnosis.to_dict()``: a
versioned document whose JSON Schema ships in the package
(``exchange_tls/data/diagnosis.schema.json``).
"""

from __future__ import annotations

import datetime as dt
import json
import sys

import exchange_tls


def handle(request: dict[str, object]) -> dict[str, object]:
    """Answer one request with the diagnosis as a JSON-ready mapping."""
    paths = [str(path) for path in request.get("paths", [])]  # type: ignore[attr-defined]
    evidence = exchange_tls.load_evidence(*paths, date_order=request.get("date_order"))  # type: ignore[arg-type]
    now = request.get("now")
    moment = dt.datetime.fromisoformat(str(now)) if now else None
    return exchange_tls.diagnose(evidence, now=moment).to_dict()


if __name__ == "__main__":
    json.dump(handle(json.load(sys.stdin)), sys.stdout, indent=2)
    sys.stdout.write("\n")
