"""Weighing findings: share, onset, impact, subjects; background told from problems.

Theory of operation. The engine settles each finding on the failing sessions and queues it
accounts for (its :class:`Cause`). This module then weighs it:

* **subjects**: the remote hosts of its failing sessions, folded into a bounded
  :class:`~exchange_tls.diagnosis.weight.Subjects` table (the hosts a summary counted but
  did not name are counted in "and M more");
* **share**: its failing sessions against all the sessions of the connectors they ran on;
* **began**: the first failure after the last success on those connectors (the onset of a
  failure that has not stopped), or the first failure when they never succeeded;
* **impact**: the messages waiting in the queues it cites or that its send connectors
  serve, and the oldest of them.
The side (which end must change) is the rule's, or the finding's when its evidence decides.

Then **background**. An internet-facing receive connector fails TLS all day with scanners
and old clients. The findings whose failing sessions all ran on one receive connector are
taken together, and when, together, they

* fail at most :attr:`Thresholds.background_share` of that connector's sessions,
* come from at least :attr:`Thresholds.background_remotes` distinct remote hosts,
* involve no known partner (Exchange Online by its EHLO name or address ranges; the remote
  hosts a send connector with an address space of its own talks to; a send connector's
  TLS domain or smart host named in the EHLO), and
* are no change (their first failure came within :attr:`Thresholds.change_after` of the
  connector's first session in the evidence),

they become one finding of severity *info* per connector, ``inbound-background``: the
share, the distinct remotes, the top remotes and errors. Anything else stays a problem.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

import attrs

from exchange_tls.diagnosis.context import Context
from exchange_tls.diagnosis.model import Confidence, EvidenceRef, Finding
from exchange_tls.diagnosis.weight import SUBJECTS_SHOWN, FaultSide, Impact, Share, Subjects
from exchange_tls.errors import Severity
from exchange_tls.protocol_log.models import Direction, SmtpSession
from exchange_tls.protocol_log.occurrences import Occurrences
from exchange_tls.protocol_log.summary import Signature, signature_of
from exchange_tls.queues.models import QueueRecord
from exchange_tls.remediation.commands import GetReceiveConnector
from exchange_tls.remediation.steps import Purpose, RemediationStep

__all__ = ["BACKGROUND", "WIDESPREAD", "Cause", "Thresholds", "Weigher"]

#: The rule id of the background finding.
BACKGROUND = "inbound-background"
#: The rule id of inbound failures spread over many hosts that are not background.
WIDESPREAD = "inbound-failures-widespread"
_UNEXPLAINED = "unexplained-tls-failure"

#: Exchange Online's outbound address ranges (Microsoft 365 URLs and IP address ranges,
#: "Exchange Online Protection" row): mail from them is Exchange Online's.
_EXCHANGE_ONLINE_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "40.92.0.0/15",
        "40.107.0.0/16",
        "52.100.0.0/15",
        "52.102.0.0/16",
        "52.103.0.0/16",
        "104.47.0.0/17",
        "2a01:111:f400::/48",
        "2a01:111:f403::/48",
    )
)
_EXCHANGE_ONLINE_NAMES = (".protection.outlook.com", ".outlook.com")
_RECEIVE_CHECK = ("Identity", "Fqdn", "TlsCertificateName", "AuthMechanism", "RequireTLS")


@attrs.frozen(kw_only=True)
class Thresholds:
    """When inbound failures are background, not a problem (see the module's docstring).

    >>> Thresholds().background_share
    0.25
    """

    #: The largest failing share of a receive connector's sessions that can be background.
    #: Internet-facing connectors see a tenth of their sessions or less from scanners and
    #: old clients (the issue's measurement: 8 %); above a quarter, real senders fail too.
    background_share: float = 0.25
    #: The fewest distinct remote hosts a background must come from: scanners come from
    #: many addresses, a failure from a few remote hosts is theirs to fix and worth naming.
    background_remotes: int = 10
    #: A failure whose first occurrence comes this long after the connector's first session
    #: in the evidence is a change, not background: something changed that day.
    change_after: dt.timedelta = dt.timedelta(hours=6)

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.background_share <= 1:
            raise ValueError("background_share must be between 0 and 1")
        if self.background_remotes < 1:
            raise ValueError("background_remotes must be 1 or more")


@attrs.frozen(kw_only=True)
class Cause:
    """What a settled finding accounts for: failing sessions, counted ones, queues."""

    sessions: tuple[SmtpSession, ...] = ()
    counted: tuple[tuple[Signature, Occurrences], ...] = ()
    queues: tuple[QueueRecord, ...] = ()

    @property
    def failures(self) -> int:
        """The failing sessions accounted for, kept whole or counted."""
        return len(self.sessions) + sum(found.count for _, found in self.counted)

    def connectors(self) -> set[tuple[str, str]]:
        """Return the (direction, connector folded) of its failing sessions."""
        found = {_key(session) for session in self.sessions}
        found.update((signature[0], signature[1]) for signature, _ in self.counted)
        return found

    def hosts(self) -> tuple[Counter[str], int, int]:
        """Failing sessions by remote host; hosts and sessions a summary did not name."""
        hosts: Counter[str] = Counter(_host(session) for session in self.sessions)
        more = more_count = 0
        for _, found in self.counted:
            hosts.update(dict(found.hosts))
            more += max(0, found.hosts_distinct - len(found.hosts))
            more_count += found.hosts_folded_sessions
        hosts.pop("", None)
        return hosts, more, more_count


def _key(session: SmtpSession) -> tuple[str, str]:
    direction = "receive" if session.direction is Direction.RECEIVE else "send"
    return (direction, session.connector_id.casefold())


def _host(session: SmtpSession) -> str:
    remote = session.remote_endpoint
    return remote.host if remote is not None and remote.host else ""


def _ehlo(session: SmtpSession) -> str:
    for row in session.rows:
        text = row.data
        if text[:5].upper() in ("EHLO ", "HELO "):
            return text[5:].strip().strip("[]").casefold()
    return ""


class Weigher:
    """Weigh the findings of one scope (see the module's docstring)."""

    def __init__(self, context: Context, thresholds: Thresholds) -> None:
        self.context = context
        self.thresholds = thresholds
        self.totals: Counter[tuple[str, str]] = Counter()
        self.last_success: dict[tuple[str, str], dt.datetime] = {}
        self.first_session: dict[tuple[str, str], dt.datetime] = {}
        summary = context.evidence.summary
        for session in context.sessions:
            key = _key(session)
            if summary is None or signature_of(session)[2] != "ok":
                self.totals[key] += 1
            # Compared, not offset: "start + 1 day" overflows for a session in 9999.
            first = self.first_session.get(key)
            if first is None or session.start < first:
                self.first_session[key] = session.start
            ok = signature_of(session)[2] == "ok"
            last = self.last_success.get(key)
            if ok and (last is None or session.end > last):
                self.last_success[key] = session.end
        if summary is not None:
            for tally in summary.tallies:
                key = (tally.direction, tally.connector_id.casefold())
                self.totals[key] += tally.sessions
                first = self.first_session.get(key)
                if first is None or tally.hour < first:
                    self.first_session[key] = tally.hour
            for signature, found in summary.occurrences:
                key = (signature[0], signature[1])
                self.totals[key] += found.count
                if found.first is not None:
                    first = self.first_session.get(key)
                    if first is None or found.first < first:
                        self.first_session[key] = found.first
        self._partners = self._partner_hosts()

    # -- one finding ----------------------------------------------------------------------

    def weigh(self, finding: Finding, cause: Cause) -> Finding:
        """Return the finding with its subjects, share, onset, impact and side."""
        changes: dict[str, object] = {}
        if cause.failures:
            hosts, more, more_count = cause.hosts()
            if hosts or more:
                changes["subjects"] = Subjects.fold(
                    "remote host", hosts, more=more, more_count=more_count
                )
            total = sum(self.totals[key] for key in cause.connectors())
            if total:
                changes["share"] = Share(failing=min(cause.failures, total), total=total)
            changes["began"] = self._began(cause)
        impact = self._impact(cause)
        if impact is not None:
            changes["impact"] = impact
        return attrs.evolve(finding, **changes) if changes else finding  # type: ignore[arg-type]

    def _began(self, cause: Cause) -> dt.datetime | None:
        successes = [self.last_success[k] for k in cause.connectors() if k in self.last_success]
        last = max(successes, default=None)
        starts = [s.start for s in cause.sessions if last is None or s.start > last]
        for _, found in cause.counted:
            first = found.first_after(last)
            if first is not None:
                starts.append(first)
        return min(starts, default=None)

    def _impact(self, cause: Cause) -> Impact | None:
        queues = {id(queue): queue for queue in cause.queues}
        for direction, connector_id in cause.connectors():
            if direction != "send":
                continue
            for connector in self.context.connectors:
                if (connector.name or "").casefold() == connector_id:
                    for queue in self.context.queues_for_connector(connector):
                        if queue.is_failing:
                            queues[id(queue)] = queue
        if not queues:
            return None
        oldest = [
            moment
            for queue in queues.values()
            for moment in (queue.first_retry_time,)
            if moment is not None
        ]
        return Impact(
            messages=sum(queue.message_count or 0 for queue in queues.values()),
            queues=len(queues),
            oldest=min(oldest, default=None),
        )

    # -- background -----------------------------------------------------------------------

    def _partner_hosts(self) -> tuple[set[str], tuple[str, ...]]:
        """Addresses and names of known partners: send connectors with their own domains."""
        addresses: set[str] = set()
        names: list[str] = []
        for connector in self.context.connectors:
            spaces = [
                space.split(":", 1)[-1].split(";", 1)[0].strip().casefold()
                for space in connector.address_spaces or ()
            ]
            own = [space for space in spaces if space and space not in ("*", "--")]
            if not own and not connector.tls_domain:
                continue
            names.extend(space.lstrip("*.") for space in own)
            if connector.tls_domain:
                names.append(connector.tls_domain.casefold().lstrip("*."))
            names.extend(host.casefold() for host in connector.smart_hosts or ())
            addresses.update(_host(s) for s in self.context.sessions_of(connector) if _host(s))
        return addresses, tuple(name for name in dict.fromkeys(names) if name)

    def _known_partner(self, cause: Cause) -> str | None:
        """Name the known partner among a cause's remotes, if any."""
        addresses, names = self._partners
        hosts, _, _ = cause.hosts()
        for host in hosts:
            if host in addresses:
                return f"the partner at {host}"
            try:
                address = ipaddress.ip_address(host)
            except ValueError:
                continue
            if any(address in network for network in _EXCHANGE_ONLINE_NETWORKS):
                return f"Exchange Online ({host})"
        for session in cause.sessions:
            ehlo = _ehlo(session)
            if ehlo.endswith(_EXCHANGE_ONLINE_NAMES):
                return f"Exchange Online ({ehlo})"
            if any(ehlo == name or ehlo.endswith("." + name) for name in names):
                return f"the partner {ehlo}"
        return None

    def background(self, weighed: Sequence[tuple[Finding, Cause]]) -> list[tuple[Finding, Cause]]:
        """Fold each receive connector's background findings into one info finding."""
        candidates: dict[tuple[str, str], list[int]] = defaultdict(list)
        for index, (finding, cause) in enumerate(weighed):
            connectors = cause.connectors()
            if (
                cause.failures
                and not cause.queues
                and len(connectors) == 1
                and next(iter(connectors))[0] == "receive"
                and finding.severity is not Severity.INFO
            ):
                candidates[next(iter(connectors))].append(index)
        folded: set[int] = set()
        made: list[tuple[Finding, Cause]] = []
        for key, indexes in sorted(candidates.items()):
            # A cause that involves a known partner stays a problem on its own; it does not
            # make the rest of the connector's noise a problem with it (one scanner address
            # in Exchange Online's ranges must not turn a day's background into errors).
            partners = {i: self._known_partner(weighed[i][1]) for i in indexes}
            indexes = [i for i in indexes if partners[i] is None]
            if len(indexes) < len(partners):
                weighed = _naming_partners(weighed, partners)
            if not indexes:
                continue
            causes = [weighed[index][1] for index in indexes]
            together = Cause(
                sessions=tuple(s for cause in causes for s in cause.sessions),
                counted=tuple(item for cause in causes for item in cause.counted),
            )
            if self._is_background(key, together):
                folded.update(indexes)
                made.append(
                    (self._background_finding(key, [weighed[i] for i in indexes]), together)
                )
                continue
            # Not background (too high a share, or a change), yet spread over many remote
            # hosts with several errors no rule explains: one problem per connector, not one
            # per error.
            unexplained = [i for i in indexes if weighed[i][0].rule_id == _UNEXPLAINED]
            spread = Cause(
                sessions=tuple(s for i in unexplained for s in weighed[i][1].sessions),
                counted=tuple(item for i in unexplained for item in weighed[i][1].counted),
            )
            hosts, more, _ = spread.hosts()
            if len(unexplained) > 1 and len(hosts) + more >= self.thresholds.background_remotes:
                folded.update(unexplained)
                members = [weighed[i] for i in unexplained]
                made.append((self._background_finding(key, members, problem=True), spread))
        return [item for index, item in enumerate(weighed) if index not in folded] + made

    def _is_background(self, key: tuple[str, str], cause: Cause) -> bool:
        total = self.totals[key]
        hosts, more, _ = cause.hosts()
        first = min(
            [s.start for s in cause.sessions]
            + [found.first for _, found in cause.counted if found.first is not None],
            default=None,
        )
        start = self.first_session.get(key)
        changed = (
            first is not None
            and start is not None
            and first - start >= self.thresholds.change_after
        )
        return (
            total > 0
            and cause.failures / total <= self.thresholds.background_share
            and len(hosts) + more >= self.thresholds.background_remotes
            and not changed
            and self._known_partner(cause) is None
        )

    def _background_finding(
        self,
        key: tuple[str, str],
        members: Sequence[tuple[Finding, Cause]],
        *,
        problem: bool = False,
    ) -> Finding:
        connector = next((s.connector_id for _, cause in members for s in cause.sessions), key[1])
        together = Cause(
            sessions=tuple(s for _, cause in members for s in cause.sessions),
            counted=tuple(item for _, cause in members for item in cause.counted),
        )
        errors: Counter[str] = Counter()
        for session in together.sessions:
            errors[_error(session)] += 1
        for signature, found in together.counted:
            errors[signature[3] or signature[2]] += found.count
        error_table = Subjects.fold("error", errors, shown=5)
        hosts, more, more_count = together.hosts()
        remotes = Subjects.fold("remote host", hosts, more=more, more_count=more_count)
        total = self.totals[key]
        share = Share(failing=min(together.failures, total), total=total)
        top_hosts = ", ".join(subject.name for subject in remotes.top[:3])
        top_errors = ", ".join(f"{s.name} ({s.count})" for s in error_table.top[:3])
        thresholds = self.thresholds
        evidence = _capped(ref for finding, _ in members for ref in finding.evidence)
        seen = (
            f"Receive connector '{connector}' failed {share} from {remotes.distinct} distinct "
            f"remote hosts (most: {top_hosts}); errors: {top_errors}."
        )
        if problem:
            summary = (
                f"{seen} No rule can tell why from this evidence, and this is not background: "
                f"more than {thresholds.background_share:.0%} of the connector's sessions fail, "
                "or the failures began during the evidence. Compare the connector's certificate "
                "and TLS settings with what these senders use, and the share with another day's."
            )
            check_note = (
                "Is the certificate this connector presents valid, enabled for SMTP and named "
                "for the connector's FQDN? A scanner flood also gives a high share: look at the "
                "top remotes."
            )
        else:
            summary = (
                f"{seen} Scanners and old clients do this to every server that faces the "
                "internet; no known partner is among them, and it did not start today."
            )
            check_note = (
                "Nothing to change for scanners and old clients; if a sender you know is among "
                "the top remotes, diagnose its side."
            )
        return Finding(
            rule_id=WIDESPREAD if problem else BACKGROUND,
            severity=Severity.WARNING if problem else Severity.INFO,
            title=(
                "Inbound TLS fails for many remote hosts, above the background share"
                if problem
                else "Background: inbound failures spread over many remote hosts"
            ),
            summary=summary,
            evidence=evidence,
            confidence=Confidence.LOW if problem else Confidence.MEDIUM,
            preconditions=(
                f"background: at most {thresholds.background_share:.0%} of the connector's "
                f"sessions, from at least {thresholds.background_remotes} remote hosts, no "
                "known partner (Exchange Online, a send connector's domains and hosts), first "
                f"seen within {_hours(thresholds.change_after)} of the connector's first session",
            ),
            subject=connector,
            occurrences=sum(finding.occurrences for finding, _ in members),
            first_seen=min((f.first_seen for f, _ in members if f.first_seen), default=None),
            last_seen=max((f.last_seen for f, _ in members if f.last_seen), default=None),
            remediation=(
                RemediationStep(
                    purpose=Purpose.CHECK,
                    command=GetReceiveConnector(identity=connector, properties=_RECEIVE_CHECK),
                    note=check_note,
                ),
                RemediationStep(
                    purpose=Purpose.VERIFY,
                    command=GetReceiveConnector(identity=connector, properties=_RECEIVE_CHECK),
                    note="Diagnose the next day's logs: the share should stay near this one. "
                    "A rise, a known sender among the remotes, or a new error is a problem.",
                ),
            ),
            subjects=remotes,
            share=share,
            side=None if problem else FaultSide.REMOTE,
            evidence_omitted=sum(finding.evidence_omitted for finding, _ in members)
            + max(0, sum(len(finding.evidence) for finding, _ in members) - len(evidence)),
        )


def _error(session: SmtpSession) -> str:
    signature = signature_of(session)
    return signature[3] or signature[2]


def _hours(span: dt.timedelta) -> str:
    return f"{span.total_seconds() / 3600:g} hours"


def _capped(refs: Iterable[EvidenceRef], shown: int = SUBJECTS_SHOWN) -> tuple[EvidenceRef, ...]:
    unique = list(dict.fromkeys(refs))
    return tuple(unique[:shown])


def _naming_partners(
    weighed: Sequence[tuple[Finding, Cause]], partners: dict[int, str | None]
) -> list[tuple[Finding, Cause]]:
    """Say, in each finding kept a problem for a partner, which partner keeps it one."""
    named = list(weighed)
    for index, partner in partners.items():
        if partner is None:
            continue
        finding, cause = named[index]
        note = (
            f" Among its remote hosts is {partner}: a known partner's failures are a "
            "problem, not background."
        )
        named[index] = (attrs.evolve(finding, summary=finding.summary + note), cause)
    return named
