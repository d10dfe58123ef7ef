"""Background: inbound failures spread over many remote hosts, reported once per connector.

The finding is made by the engine when it weighs the others
(:mod:`~exchange_tls.diagnosis.weighing`): it folds the findings whose failing sessions are
a receive connector's background into one, of severity info. The rule is registered here
so that the catalogue documents it like any other.
"""

from __future__ import annotations

from collections.abc import Iterator

from exchange_tls.diagnosis.catalogue import rule
from exchange_tls.diagnosis.context import Context
from exchange_tls.diagnosis.model import Finding
from exchange_tls.diagnosis.weighing import BACKGROUND, WIDESPREAD
from exchange_tls.diagnosis.weight import FaultSide
from exchange_tls.errors import Severity

__all__: list[str] = []


@rule(
    BACKGROUND,
    title="Background: inbound failures spread over many remote hosts",
    severity=Severity.INFO,
    failure_mode=None,
    meaning="A receive connector that faces the internet fails TLS with scanners and old "
    "clients every day. Failures spread over many remote hosts, at a low share of the "
    "connector's sessions, from no known partner, that did not start during the evidence, "
    "are that background: reported once per connector, with the share, the distinct remote "
    "hosts, the top remotes and errors, never as an error.",
    needs=("failing receive sessions that, together, meet the background thresholds",),
    remedy="Nothing to fix on this server. If a sender you know is among the top remotes, "
    "diagnose its side; lower the thresholds (diagnose(..., thresholds=Thresholds(...)), "
    "--background-share) to see these failures as problems.",
    selection="The engine folds the findings whose failing sessions all ran on one receive "
    "connector when, together, they fail at most a quarter of its sessions, come from ten "
    "remote hosts or more, involve no known partner (Exchange Online, a send connector's "
    "domains and hosts) and began within six hours of the connector's first session.",
    contradiction="A known partner or Exchange Online among the remotes, a higher share, "
    "few remotes, or a failure that began later (a change) keeps the findings as problems.",
    # No inputs: the engine makes it from other findings, so it is never "not run".
    side=FaultSide.REMOTE,
)
def inbound_background(context: Context) -> Iterator[Finding]:
    """Yield nothing: the engine makes this finding when it weighs the others."""
    return iter(())


@rule(
    WIDESPREAD,
    title="Inbound TLS fails for many remote hosts, above the background share",
    severity=Severity.WARNING,
    failure_mode=None,
    meaning="Failures of a receive connector spread over many remote hosts, with several "
    "errors no rule explains, that are not background: they fail more than the background "
    "share of the connector's sessions, or began during the evidence. They are one problem "
    "for the connector, not one per error: the connector's certificate or TLS settings, a "
    "flood of scanners, or a change on the senders' side.",
    needs=("failing receive sessions of several unexplained errors from many remote hosts",),
    remedy="Check the certificate the connector presents (valid, enabled for SMTP, named for "
    "the connector's FQDN) and its TLS settings; look at the top remotes and compare the "
    "share with another day's.",
    selection="The engine folds a receive connector's unexplained TLS failures (two errors or "
    "more, from at least the background's number of remote hosts, no known partner) into "
    "one finding when, together, they are not background.",
    contradiction="A lower share that began with the connector's first sessions is "
    "background (inbound-background); a single error keeps its own finding.",
)
def inbound_failures_widespread(context: Context) -> Iterator[Finding]:
    """Yield nothing: the engine makes this finding when it weighs the others."""
    return iter(())
