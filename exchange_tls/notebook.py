"""Notebook views: HTML for Jupyter, and pandas DataFrames on request.

The models stay plain; their ``_repr_html_`` methods call in here. pandas is optional
(``pip install "exchange_tls[pandas]"``): :func:`to_dataframe` says so clearly when it
is missing.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from exchange_tls.certificates.models import ExchangeCertificate
    from exchange_tls.diagnosis.model import Diagnosis, Finding
    from exchange_tls.protocol_log.models import SmtpSession

__all__ = ["records", "to_dataframe"]

_SEVERITY_COLOURS = {"error": "#b00020", "warning": "#a15c00", "info": "#00639b"}


def _cell(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _table(rows: Sequence[Mapping[str, object]]) -> str:
    if not rows:
        return "<p><em>(none)</em></p>"
    columns = list(rows[0])
    head = "".join(f"<th>{_cell(column)}</th>" for column in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(row.get(column))}</td>" for column in columns) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def finding_html(finding: Finding) -> str:
    """Render one finding: severity, title, summary, evidence, remediation."""
    colour = _SEVERITY_COLOURS[finding.severity.value]
    evidence = "".join(
        f"<li><code>{_cell(ref.source or '(derived)')}</code>: {_cell(ref.claim)}"
        f"<br><small><code>{_cell(ref.excerpt)}</code></small></li>"
        for ref in finding.evidence
    )
    steps = "".join(
        f"<li><b>{_cell(step.purpose.value)}</b>: <code>{_cell(step.command)}</code>"
        + (f"<br><small>{_cell(step.note)}</small>" if step.note else "")
        + "</li>"
        for step in finding.remediation
    )
    return (
        f'<div><h4 style="color:{colour}">{_cell(finding.severity.value.upper())} '
        f"<code>{_cell(finding.rule_id)}</code>: {_cell(finding.title)}</h4>"
        f"<p>{_cell(finding.summary)} "
        f"<small>({_cell(finding.confidence.value)} confidence)</small></p>"
        f"<p>Evidence:</p><ul>{evidence}</ul>"
        + (f"<p>Remediation:</p><ol>{steps}</ol>" if steps else "")
        + "</div>"
    )


def diagnosis_html(diagnosis: Diagnosis) -> str:
    """Render a diagnosis: a line about it, then each finding."""
    if not diagnosis.findings:
        return "<p>No problem found.</p>"
    return f"<p>{len(diagnosis.findings)} finding(s).</p>" + "".join(
        finding_html(finding) for finding in diagnosis.findings
    )


def session_row(session: SmtpSession) -> dict[str, object]:
    """Flatten a session for a table."""
    tls = session.tls
    return {
        "start": session.start,
        "connector": session.connector_id,
        "session": session.session_id,
        "direction": session.direction.value if session.direction else None,
        "remote": str(session.remote_endpoint) if session.remote_endpoint else None,
        "complete": session.complete,
        "tls_succeeded": tls.succeeded if tls else None,
        "tls_error": tls.error if tls else None,
        "protocol": tls.protocol if tls else None,
        "cipher": tls.cipher if tls else None,
        "certificate": tls.local_certificate.thumbprint if tls and tls.local_certificate else None,
        "rows": len(session.rows),
    }


def session_html(session: SmtpSession) -> str:
    """Render a session: its facts, then its rows."""
    rows = [
        {
            "line": str(row.source),
            "event": row.event.value,
            "data": row.data,
            "context": row.context,
        }
        for row in session.rows
    ]
    return _table([session_row(session)]) + _table(rows)


def certificate_row(certificate: ExchangeCertificate) -> dict[str, object]:
    """Flatten a certificate for a table."""
    return {
        "thumbprint": certificate.thumbprint,
        "services": None if certificate.services is None else str(certificate.services),
        "subject": certificate.subject,
        "issuer": certificate.issuer,
        "not_after": certificate.not_after,
        "has_private_key": certificate.has_private_key,
        "status": None if certificate.status is None else str(certificate.status),
        "source": str(certificate.source) if certificate.source else None,
    }


def records(items: Iterable[object]) -> list[dict[str, object]]:
    """Flatten models (rows, sessions, certificates, queues, findings) for a table."""
    from exchange_tls.certificates.models import ExchangeCertificate
    from exchange_tls.diagnosis.model import Finding
    from exchange_tls.protocol_log.models import ProtocolLogRow, SmtpSession
    from exchange_tls.queues.models import QueueRecord

    flat: list[dict[str, object]] = []
    for item in items:
        if isinstance(item, SmtpSession):
            flat.append(session_row(item))
        elif isinstance(item, ExchangeCertificate):
            flat.append(certificate_row(item))
        elif isinstance(item, ProtocolLogRow):
            flat.append({**item.to_dict(), "timestamp": item.timestamp})
        elif isinstance(item, QueueRecord):
            reply = item.last_error.reply if item.last_error else None
            flat.append(
                {
                    "identity": item.identity,
                    "status": None if item.status is None else str(item.status),
                    "messages": item.message_count,
                    "next_hop": item.next_hop_domain,
                    "error": None
                    if reply is None
                    else f"{reply.code} {reply.enhanced or ''}".strip(),
                    "inner_error": None
                    if reply is None or reply.nested is None
                    else f"{reply.innermost.code} {reply.innermost.enhanced or ''}".strip(),
                    "last_retry": item.last_retry_time,
                }
            )
        elif isinstance(item, Finding):
            flat.append(
                {
                    "rule_id": item.rule_id,
                    "severity": item.severity.value,
                    "confidence": item.confidence.value,
                    "subject": item.subject,
                    "summary": item.summary,
                    "evidence": len(item.evidence),
                }
            )
        else:
            raise TypeError(f"cannot flatten {type(item).__name__} for a table")
    return flat


def list_html(items: Iterable[object]) -> str:
    """Render a list of models as a table."""
    return _table(records(items))


def to_dataframe(items: Iterable[object]) -> Any:
    """Return a pandas DataFrame of models (rows, sessions, certificates, queues, findings).

    Raises ImportError with the install command when pandas is missing.
    """
    try:
        import pandas  # optional: imported only when asked for
    except ImportError as error:
        raise ImportError(
            'to_dataframe() needs pandas: pip install "exchange_tls[pandas]"'
        ) from error
    return pandas.DataFrame.from_records(records(items))
