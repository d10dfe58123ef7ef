"""Saved probes: the JSON ``exchange-tls probe --format json`` writes, and its reader.

A saved probe is an object that starts with ``"format": "exchange-tls-probe"``; a file
holds one, a list of them, or ``{"format": ..., "probes": [...]}`` (``--from-logs``).
Reading it back gives the same :class:`~exchange_tls.probe_results.SmtpProbe`, with its
source, so a finding can cite the probe file like any other evidence.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Mapping
from typing import Any, BinaryIO

from exchange_tls.certificates.x509 import CertificateFacts
from exchange_tls.errors import ParseError, Problem, Severity
from exchange_tls.probe_results.models import (
    DaneCheck,
    DomainPolicy,
    MtaStsCheck,
    MtaStsPolicy,
    MxHost,
    ProbeStage,
    SmtpProbe,
    TlsaRecord,
    VersionSupport,
)
from exchange_tls.results import ReadResult, read_text_file
from exchange_tls.sources import SourceRef
from exchange_tls.tls_results import TlsResultType, result_type

__all__ = [
    "FORMAT",
    "VERSION",
    "looks_like_probe_results",
    "parse_probe_results",
    "probe_to_dict",
    "probes_to_json",
    "read_probe_results",
]

#: The marker every saved probe carries, and the version of its layout.
FORMAT = "exchange-tls-probe"
VERSION = 1
#: Saved probes read from one file at most: a fleet's failing hosts fit many times over.
MAX_PROBES = 10_000


def _iso(moment: dt.datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _certificate(facts: CertificateFacts) -> dict[str, Any]:
    return {
        "subject": facts.subject,
        "issuer": facts.issuer,
        "serial_number": facts.serial_number,
        "not_before": facts.not_before.isoformat(),
        "not_after": facts.not_after.isoformat(),
        "thumbprint": facts.thumbprint,
        "names": list(facts.dns_names),
        "public_key_size": facts.public_key_size,
    }


def _record(record: TlsaRecord | None) -> str | None:
    return None if record is None else str(record)


def _dane(dane: DaneCheck) -> dict[str, Any]:
    return {
        "name": dane.name,
        "records": [str(record) for record in dane.records],
        "authenticated": dane.authenticated,
        "matched": _record(dane.matched),
        "matches": dane.matches,
        "result_type": None if dane.result_type is None else dane.result_type.value,
        "error": dane.error,
    }


def _mta_sts(check: MtaStsCheck) -> dict[str, Any]:
    policy = check.policy
    return {
        "domain": check.domain,
        "record": check.record,
        "url": check.url,
        "policy": None
        if policy is None
        else {
            "version": policy.version,
            "mode": policy.mode,
            "mx": list(policy.mx),
            "max_age": policy.max_age,
        },
        "fetch_error": check.fetch_error,
        "policy_error": check.policy_error,
        "host": check.host,
        "host_matches": check.host_matches,
        "result_type": None if check.result_type is None else check.result_type.value,
    }


def _domain(policy: DomainPolicy) -> dict[str, Any]:
    return {
        "domain": policy.domain,
        "mx": [{"preference": mx.preference, "host": mx.host} for mx in policy.mx],
        "mx_authenticated": policy.mx_authenticated,
        "mx_error": policy.mx_error,
        "mta_sts": None if policy.mta_sts is None else _mta_sts(policy.mta_sts),
    }


def probe_to_dict(probe: SmtpProbe) -> dict[str, Any]:
    """Return a probe as the JSON-ready document ``--format json`` writes."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "host": probe.host,
        "port": probe.port,
        "address": probe.address,
        "server_name": probe.server_name,
        "ehlo_name": probe.ehlo_name,
        "probed_at": _iso(probe.probed_at),
        "stage": probe.stage.value,
        "banner": probe.banner,
        "capabilities": None if probe.capabilities is None else list(probe.capabilities),
        "starttls_offered": probe.starttls_offered,
        "tls_version": probe.tls_version,
        "cipher": probe.cipher,
        "certificate": None if probe.certificate is None else _certificate(probe.certificate),
        "chain": [_certificate(facts) for facts in probe.chain],
        "name_matches": probe.name_matches,
        "verification_error": probe.verification_error,
        "result_type": None if probe.result_type is None else probe.result_type.value,
        "error": probe.error,
        "versions": [
            {"version": v.version, "accepted": v.accepted, "error": v.error} for v in probe.versions
        ],
        "dane": None if probe.dane is None else _dane(probe.dane),
        "domain": None if probe.domain is None else _domain(probe.domain),
    }


def probes_to_json(probes: list[SmtpProbe] | tuple[SmtpProbe, ...]) -> str:
    """Return probes as one JSON document: a single probe's object, else a ``probes`` list."""
    if len(probes) == 1:
        document: dict[str, Any] = probe_to_dict(probes[0])
    else:
        document = {
            "format": FORMAT,
            "version": VERSION,
            "probes": [probe_to_dict(probe) for probe in probes],
        }
    return json.dumps(document, indent=2, ensure_ascii=False)


def looks_like_probe_results(head: str) -> bool:
    r"""Whether the start of a file is saved probe JSON.

    >>> looks_like_probe_results('{\n  "format": "exchange-tls-probe",')
    True
    >>> looks_like_probe_results('{"Thumbprint": "AB"}')
    False
    """
    stripped = head.lstrip("\ufeff \t\r\n")
    return stripped[:1] in ("{", "[") and f'"{FORMAT}"' in stripped[:2000]


# -- reading -----------------------------------------------------------------------------


class _Bad(ValueError):
    """A value of the wrong shape, with the JSON path that holds it."""


def _get(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], path: str) -> Any:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) and kind in (int, (int,)):
        raise _Bad(f"{path}/{key} must be a number, not {value!r}")
    if not isinstance(value, kind):
        raise _Bad(f"{path}/{key} has the wrong type ({type(value).__name__})")
    return value


def _time(data: Mapping[str, Any], key: str, path: str) -> dt.datetime | None:
    text = _get(data, key, str, path)
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _Bad(f"{path}/{key} is not an ISO 8601 time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def _strings(data: Mapping[str, Any], key: str, path: str) -> tuple[str, ...] | None:
    items = _get(data, key, list, path)
    if items is None:
        return None
    if not all(isinstance(item, str) for item in items):
        raise _Bad(f"{path}/{key} must be a list of strings")
    return tuple(items)


def _facts(data: Any, path: str) -> CertificateFacts:
    if not isinstance(data, Mapping):
        raise _Bad(f"{path} must be an object")
    not_before, not_after = _time(data, "not_before", path), _time(data, "not_after", path)
    if not_before is None or not_after is None:
        raise _Bad(f"{path} needs not_before and not_after")
    return CertificateFacts(
        thumbprint=(_get(data, "thumbprint", str, path) or "").upper(),
        subject=_get(data, "subject", str, path) or "",
        issuer=_get(data, "issuer", str, path) or "",
        serial_number=_get(data, "serial_number", str, path) or "",
        not_before=not_before,
        not_after=not_after,
        dns_names=_strings(data, "names", path) or (),
        public_key_size=_get(data, "public_key_size", int, path),
    )


def _tlsa(text: Any, path: str) -> TlsaRecord:
    parts = text.split() if isinstance(text, str) else []
    if len(parts) != 4 or not all(part.isdigit() for part in parts[:3]):
        raise _Bad(f"{path} is not a TLSA record ('3 1 1 <hex>'): {text!r}")
    return TlsaRecord(
        usage=int(parts[0]), selector=int(parts[1]), matching_type=int(parts[2]), data=parts[3]
    )


def _read_dane(data: Mapping[str, Any], path: str) -> DaneCheck:
    records = _get(data, "records", list, path) or []
    matched = _get(data, "matched", str, path)
    return DaneCheck(
        name=_get(data, "name", str, path) or "",
        records=tuple(_tlsa(item, f"{path}/records/{i}") for i, item in enumerate(records)),
        authenticated=_get(data, "authenticated", bool, path),
        matched=None if matched is None else _tlsa(matched, f"{path}/matched"),
        error=_get(data, "error", str, path),
    )


def _read_domain(data: Mapping[str, Any], path: str) -> DomainPolicy:
    mx = []
    for index, item in enumerate(_get(data, "mx", list, path) or []):
        where = f"{path}/mx/{index}"
        if not isinstance(item, Mapping):
            raise _Bad(f"{where} must be an object")
        mx.append(
            MxHost(
                preference=_get(item, "preference", int, where) or 0,
                host=_get(item, "host", str, where) or "",
            )
        )
    sts = _get(data, "mta_sts", Mapping, path)
    check = None
    if sts is not None:
        where = f"{path}/mta_sts"
        policy = _get(sts, "policy", Mapping, where)
        check = MtaStsCheck(
            domain=_get(sts, "domain", str, where) or "",
            record=_get(sts, "record", str, where),
            url=_get(sts, "url", str, where),
            policy=None
            if policy is None
            else MtaStsPolicy(
                version=_get(policy, "version", str, where),
                mode=_get(policy, "mode", str, where),
                mx=_strings(policy, "mx", where) or (),
                max_age=_get(policy, "max_age", int, where),
            ),
            fetch_error=_get(sts, "fetch_error", str, where),
            policy_error=_get(sts, "policy_error", str, where),
            host=_get(sts, "host", str, where),
            host_matches=_get(sts, "host_matches", bool, where),
        )
    return DomainPolicy(
        domain=_get(data, "domain", str, path) or "",
        mx=tuple(mx),
        mx_authenticated=_get(data, "mx_authenticated", bool, path),
        mx_error=_get(data, "mx_error", str, path),
        mta_sts=check,
    )


def _probe(data: Mapping[str, Any], path: str, source: SourceRef) -> SmtpProbe:
    host, port = _get(data, "host", str, path), _get(data, "port", int, path)
    stage_text = _get(data, "stage", str, path)
    if not host or port is None or stage_text is None:
        raise _Bad(f"{path} needs host, port and stage")
    try:
        stage = ProbeStage(stage_text)
    except ValueError:
        raise _Bad(f"{path}/stage is not a probe stage: {stage_text!r}") from None
    kind_text = _get(data, "result_type", str, path)
    kind = None if kind_text is None else result_type(kind_text)
    if isinstance(kind, str):
        raise _Bad(f"{path}/result_type is not an RFC 8460 result type: {kind_text!r}")
    chain = [
        _facts(item, f"{path}/chain/{index}")
        for index, item in enumerate(_get(data, "chain", list, path) or [])
    ]
    if not chain and data.get("certificate") is not None:
        chain = [_facts(data["certificate"], f"{path}/certificate")]
    versions = []
    for index, item in enumerate(_get(data, "versions", list, path) or []):
        where = f"{path}/versions/{index}"
        if not isinstance(item, Mapping) or not isinstance(item.get("version"), str):
            raise _Bad(f"{where} must be an object with a version")
        versions.append(
            VersionSupport(
                version=item["version"],
                accepted=_get(item, "accepted", bool, where),
                error=_get(item, "error", str, where),
            )
        )
    dane = _get(data, "dane", Mapping, path)
    domain = _get(data, "domain", Mapping, path)
    return SmtpProbe(
        host=host,
        port=port,
        address=_get(data, "address", str, path),
        server_name=_get(data, "server_name", str, path),
        ehlo_name=_get(data, "ehlo_name", str, path),
        probed_at=_time(data, "probed_at", path),
        stage=stage,
        banner=_get(data, "banner", str, path),
        capabilities=_strings(data, "capabilities", path),
        starttls_offered=_get(data, "starttls_offered", bool, path),
        tls_version=_get(data, "tls_version", str, path),
        cipher=_get(data, "cipher", str, path),
        chain=tuple(chain),
        name_matches=_get(data, "name_matches", bool, path),
        verification_error=_get(data, "verification_error", str, path),
        result_type=kind if isinstance(kind, TlsResultType) else None,
        error=_get(data, "error", str, path),
        versions=tuple(versions),
        dane=None if dane is None else _read_dane(dane, f"{path}/dane"),
        domain=None if domain is None else _read_domain(domain, f"{path}/domain"),
        source=source,
    )


def _entries(document: Any) -> list[tuple[str, Any]]:
    if isinstance(document, list):
        return [(f"/{index}", item) for index, item in enumerate(document)]
    if isinstance(document, Mapping) and isinstance(document.get("probes"), list):
        return [(f"/probes/{index}", item) for index, item in enumerate(document["probes"])]
    return [("", document)]


def parse_probe_results(text: str, *, source: str | None = None) -> ReadResult[SmtpProbe]:
    """Read saved probe JSON; a probe that cannot be read is a problem naming its JSON path.

    Text that is not JSON at all raises :class:`~exchange_tls.ParseError` with its position.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, not {type(text).__name__}")
    name = source or "<probe>"
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ParseError(
            f"not JSON: {error.msg}",
            source=name,
            line=error.lineno,
            column=error.colno,
            line_text=_line(text, error.lineno),
        ) from None
    probes: list[SmtpProbe] = []
    problems: list[Problem] = []
    entries = _entries(document)
    for path, entry in entries[:MAX_PROBES]:
        if not isinstance(entry, Mapping) or entry.get("format") != FORMAT:
            problems.append(_problem(name, f"{path or '/'} is not a saved probe"))
            continue
        try:
            probes.append(_probe(entry, path, SourceRef(f"{name}#{path or '/'}")))
        except _Bad as error:
            problems.append(_problem(name, f"a probe left out: {error}"))
    if len(entries) > MAX_PROBES:
        problems.append(
            _problem(name, f"{len(entries) - MAX_PROBES:,} probes beyond {MAX_PROBES:,} left out")
        )
    return ReadResult(items=probes, problems=problems, format="json", source=source)


def _line(text: str, number: int) -> str:
    lines = text.splitlines()
    return lines[number - 1] if 0 < number <= len(lines) else ""


def _problem(source: str, message: str) -> Problem:
    return Problem(message=message, source=source, severity=Severity.WARNING, code="bad-probe")


def read_probe_results(file: str | os.PathLike[str] | BinaryIO) -> ReadResult[SmtpProbe]:
    """Read a saved probe file (see :func:`parse_probe_results`)."""
    return read_text_file(file, lambda text, source: parse_probe_results(text, source=source))
