"""SMTP TLS reports (RFC 8460): what other mail systems saw of this organisation's TLS.

A sending organisation (Google, Microsoft, Mail.ru …) sends one report a day to the
``rua`` address of ``_smtp._tls.<domain>``: per policy it applied to the domain, the
sessions that negotiated TLS and those that failed, and per kind of failure its result
type, the sending MTA, the receiving MX and a count. The models keep the report's
vocabulary; the result type is :class:`~exchange_tls.tls_results.TlsResultType`, shared
with Exchange Online's 4.7.32x codes and the probe, or the text of a type the registry
lacks.

Each policy and failure detail keeps its JSON pointer (RFC 6901) into the report, so a
finding cites ``report.json#/policies/0/failure-details/2`` exactly.
"""

from __future__ import annotations

import datetime as dt
import enum

import attrs

from exchange_tls.sources import SourceRef
from exchange_tls.tls_results import TlsResultType

__all__ = ["FailureDetail", "TlsPolicyType", "TlsReport", "TlsReportPolicy"]


class TlsPolicyType(enum.Enum):
    """The kind of policy a sender applied (RFC 8460 §4.3, ``policy-type``)."""

    #: A DANE TLSA record set (RFC 7672).
    TLSA = "tlsa"
    #: An MTA-STS policy (RFC 8461).
    STS = "sts"
    #: No policy: the sender tried opportunistic STARTTLS.
    NO_POLICY_FOUND = "no-policy-found"

    def __str__(self) -> str:
        return self.value


@attrs.frozen(kw_only=True)
class FailureDetail:
    """One kind of failed session a sender reports (``failure-details[]``)."""

    #: What failed; a type the IANA registry lacks is kept as its text.
    result_type: TlsResultType | str
    #: The sending MTA's address (``sending-mta-ip``).
    sending_mta_ip: str | None = None
    #: The MX host name the sender connected to (``receiving-mx-hostname``).
    receiving_mx_hostname: str | None = None
    #: The name the receiving MTA gave in its greeting (``receiving-mx-helo``).
    receiving_mx_helo: str | None = None
    #: The receiving MX's address (``receiving-ip``).
    receiving_ip: str | None = None
    #: How many sessions failed this way (``failed-session-count``).
    failed_session_count: int | None = None
    #: The sender's own reason code (``failure-reason-code``), such as an OpenSSL error.
    failure_reason_code: str | None = None
    #: A URI the sender gives for more (``additional-information``).
    additional_information: str | None = None
    #: The JSON pointer of this detail in its report: ``/policies/0/failure-details/1``.
    pointer: str = ""
    #: How many further details of the same type, MX and reason were folded into this
    #: one when a report held more than the reader keeps (their sessions are counted here).
    folded: int = 0
    #: The report file, the line (when known) and the pointer.
    source: SourceRef | None = None


@attrs.frozen(kw_only=True)
class TlsReportPolicy:
    """One policy a sender applied, its counts and its failures (``policies[]``)."""

    policy_type: TlsPolicyType | str | None
    #: The policy as the sender read it, line by line (``policy-string``).
    policy_string: tuple[str, ...] = ()
    #: The domain the policy is for (``policy-domain``).
    policy_domain: str | None = None
    #: The MX host patterns the policy names (``mx-host``; a string or a list in practice).
    mx_hosts: tuple[str, ...] = ()
    #: Sessions that negotiated TLS under this policy (``total-successful-session-count``).
    successful_sessions: int | None = None
    #: Sessions that failed (``total-failure-session-count``).
    failed_sessions: int | None = None
    failure_details: tuple[FailureDetail, ...] = ()
    #: Failure details neither kept nor folded (beyond every bound), and their sessions.
    omitted_details: int = 0
    omitted_sessions: int = 0
    #: The JSON pointer of this policy: ``/policies/0``.
    pointer: str = ""
    source: SourceRef | None = None


@attrs.frozen(kw_only=True)
class TlsReport:
    """One SMTP TLS report (RFC 8460 §4.4)."""

    #: The sending organisation (``organization-name``): ``Google Inc.``.
    organization_name: str | None
    #: The period the report covers (``date-range``), in UTC.
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    #: Whom to ask about the report (``contact-info``).
    contact_info: str | None = None
    #: The sender's identifier of the report (``report-id``).
    report_id: str | None = None
    policies: tuple[TlsReportPolicy, ...] = ()
    #: The report file (the mail and its attachment, for a report mail).
    source: SourceRef | None = None

    @property
    def failure_details(self) -> tuple[FailureDetail, ...]:
        """Every failure detail of every policy, in the report's order."""
        return tuple(detail for policy in self.policies for detail in policy.failure_details)

    @property
    def failed_sessions(self) -> int:
        """The failed sessions the policies' summaries count (0 where they say nothing)."""
        return sum(policy.failed_sessions or 0 for policy in self.policies)

    @property
    def successful_sessions(self) -> int:
        """The sessions that negotiated TLS, as the policies' summaries count them."""
        return sum(policy.successful_sessions or 0 for policy in self.policies)
