"""Typical public usage, checked by ``mypy --strict tests/typing`` (not run by pytest).

Each ``assert_type`` states the type a user's checker must infer; a change to a public
signature that breaks it fails CI.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

from typing_extensions import assert_type

import exchange_tls
from exchange_tls import (
    Command,
    Confidence,
    Diagnosis,
    EnhancedStatusCode,
    Evidence,
    ExchangeCertificate,
    Finding,
    LastError,
    ParseError,
    Problem,
    ProtocolLog,
    ProtocolLogRow,
    QueueRecord,
    ReadResult,
    RemediationStep,
    Rule,
    SendConnector,
    Services,
    SmtpReply,
    SmtpSession,
    Verdict,
)


def diagnose_a_folder(folder: Path) -> int:
    """Load, diagnose and walk the findings, as a script does."""
    evidence = exchange_tls.load_evidence(folder, date_order="MDY", jobs=2)
    assert_type(evidence, Evidence)
    diagnosis = exchange_tls.diagnose(evidence, now=dt.datetime.now(dt.timezone.utc))
    assert_type(diagnosis, Diagnosis)
    assert_type(diagnosis.verdict, Verdict)
    for finding in diagnosis.findings:
        assert_type(finding, Finding)
        assert_type(finding.confidence, Confidence)
        assert_type(finding.rule, Rule | None)
        for step in finding.remediation:
            assert_type(step, RemediationStep)
            assert_type(step.command, Command)
            print(step.command.render())
        for reference in finding.evidence:
            if reference.source is not None:
                print(reference.source.source, reference.source.line)
    return 1 if diagnosis.verdict is Verdict.PROBLEMS else 0


def read_each_kind(folder: Path) -> None:
    """Readers of files give a sequence of models with its problems."""
    certificates = exchange_tls.read_certificates(folder / "certs.txt", date_order="MDY")
    assert_type(certificates, ReadResult[ExchangeCertificate])
    first: ExchangeCertificate = certificates[0]
    if first.services is not None and Services.SMTP in first.services:
        print(first.thumbprint)
    problems: tuple[Problem, ...] = certificates.problems
    print(len(certificates), problems)
    connectors = exchange_tls.read_send_connectors(folder / "connectors.txt")
    assert_type(connectors, ReadResult[SendConnector])
    queues = exchange_tls.read_queues(folder / "queues.txt")
    assert_type(queues, ReadResult[QueueRecord])
    manifests = exchange_tls.read_manifest(folder / "manifest.json")
    assert_type(manifests, ReadResult[exchange_tls.CollectionManifest])
    selection = exchange_tls.select_certificate(connectors[0], certificates)
    chosen: ExchangeCertificate | None = selection.chosen
    print(chosen)


def read_logs(folder: Path) -> None:
    """Protocol logs: the whole file, or a stream of rows turned into sessions."""
    log = exchange_tls.read_protocol_log(folder / "SEND20240601-1.LOG")
    assert_type(log, ProtocolLog)
    for row in log.rows:
        assert_type(row.timestamp, dt.datetime)
        assert_type(row.sequence_number, int | None)
        assert_type(row.remote_endpoint, exchange_tls.Endpoint | None)
    rows: Iterator[ProtocolLogRow] = exchange_tls.iter_protocol_rows(folder)
    for session in exchange_tls.assemble_sessions(rows):
        assert_type(session, SmtpSession)
        if session.tls is not None and session.tls.succeeded is False:
            print(session.tls.error)
    assembler = exchange_tls.SessionAssembler()
    finished: list[SmtpSession] = []
    for row in log.rows:
        finished.extend(assembler.feed(row))
    finished.extend(assembler.close())


def decode_strings(text: str) -> None:
    """Decode one string: the model comes back, or ParseError is raised."""
    try:
        reply = exchange_tls.parse_smtp_reply(text)
    except ParseError as error:
        assert_type(error.to_problem(), Problem)
        return
    assert_type(reply, SmtpReply)
    assert_type(reply.enhanced, EnhancedStatusCode | None)
    assert_type(exchange_tls.parse_last_error(text), LastError)
