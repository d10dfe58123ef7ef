"""Rules about the server's own settings: TLS registry keys, events, receive side, hybrid.

They read the evidence that describes the server rather than a session: the SCHANNEL and
.NET registry settings, the MSExchangeTransport and Schannel events, the receive
connectors and the hybrid configuration. This module keeps to the catalogue's
``rule(...)`` and ``finding(...)`` and reads the evidence directly, so that it does not
depend on joins other rules share.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from exchange_tls.certificates.models import ExchangeCertificate, Services
from exchange_tls.connectors.hybrid import HybridConfiguration
from exchange_tls.connectors.models import ReceiveConnector
from exchange_tls.diagnosis.catalogue import finding, rule
from exchange_tls.diagnosis.cite import failure_row, plural, quoted, row_ref, shorten
from exchange_tls.diagnosis.context import Context
from exchange_tls.diagnosis.facts.schannel_events import event_side, schannel_failures
from exchange_tls.diagnosis.facts.store import (
    certificates_for,
    certificates_named,
    replacement_for,
    same_name,
)
from exchange_tls.diagnosis.model import Confidence, EvidenceRef, Finding
from exchange_tls.diagnosis.rules._shared import event_ref, schannel_claim
from exchange_tls.diagnosis.weight import FaultSide
from exchange_tls.errors import Severity
from exchange_tls.events.models import EventRecord, Family
from exchange_tls.inventory.support import tls13_support
from exchange_tls.protocol_log.models import Direction
from exchange_tls.remediation.commands import (
    EnableExchangeCertificate,
    GetExchangeCertificate,
    SetHybridConfiguration,
)
from exchange_tls.remediation.plans.registry import registry_steps
from exchange_tls.remediation.steps import Purpose, RemediationStep
from exchange_tls.tls_settings.models import (
    DotNetSetting,
    ProtocolSetting,
    Side,
    TlsSettings,
    powershell_path,
)
from exchange_tls.tls_settings.registry import RegistryValue

__all__ = [
    "dotnet_tls_settings_missing",
    "hybrid_certificate_mismatch",
    "starttls_certificate_missing_event",
    "tls12_disabled_in_registry",
    "tls13_enabled_in_registry",
    "tls_client_server_mismatch",
]

TLS_GUIDANCE = (
    "https://techcommunity.microsoft.com/t5/exchange-team-blog/"
    "exchange-server-tls-guidance-part-2-enabling-tls-1-2-and/ba-p/607761"
)
HEALTH_CHECKER_TLS = (
    "https://microsoft.github.io/CSS-Exchange/Diagnostics/HealthChecker/TLSConfigurationCheck/"
)
SCHANNEL_ALERTS = (
    "https://learn.microsoft.com/windows/win32/secauthn/schannel-error-codes-for-tls-and-ssl-alerts"
)
EVENT_12014 = "https://blog.expta.com/2010/09/how-to-fix-msexchangetransport-event-id.html"
HYBRID_NEW_CERTIFICATE = (
    "https://learn.microsoft.com/exchange/troubleshoot/email-delivery/"
    "cannot-receive-mail-with-new-certificate"
)
SET_HYBRID = "https://learn.microsoft.com/powershell/module/exchange/set-hybridconfiguration"
SET_RECEIVE = "https://learn.microsoft.com/powershell/module/exchange/set-receiveconnector"

# -- helpers -------------------------------------------------------------------------


def _settings(context: Context) -> TlsSettings | None:
    parts = context.evidence.tls_settings
    return TlsSettings.combine(parts) if parts else None


def _value_ref(value: RegistryValue | None, claim: str, key: str, name: str) -> EvidenceRef:
    if value is None:
        return EvidenceRef(
            source=None,
            excerpt=shorten(f"[{key}] has no {quoted(name)} value"),
            claim=claim,
        )
    return EvidenceRef(
        source=value.source, excerpt=shorten(f"[{key}] {name}={_reg_data(value)}"), claim=claim
    )


def _reg_data(value: RegistryValue) -> str:
    """Write a value's data the way a .reg export does, never as Python's repr."""
    data = value.data
    if isinstance(data, int):
        return f"dword:{data:08x}"
    if isinstance(data, bytes):
        return "hex:" + ",".join(f"{byte:02x}" for byte in data)
    if isinstance(data, tuple):
        return ", ".join(f'"{item}"' for item in data)
    return "(no data)" if data is None else f'"{data}"'


def _dropped_handshakes(context: Context, side: Side) -> list[EvidenceRef]:
    """Cite sessions on the side's direction whose handshake failed on protocol grounds."""
    direction = Direction.SEND if side is Side.CLIENT else Direction.RECEIVE
    refs = []
    for session in context.sessions:
        tls = session.tls
        if (
            session.direction is not direction
            or tls is None
            or tls.succeeded is not False
            or tls.error not in ("SocketError", "AlgorithmMismatch")
        ):
            continue
        row = failure_row(session)
        if row is not None:
            refs.append(row_ref(row, f"a handshake failed with {tls.error}"))
    return refs[:5]


# -- TLS 1.2 disabled ------------------------------------------------------------------


def _tls12_off(setting: ProtocolSetting) -> bool:
    return setting.offered is False


@rule(
    rule_id="tls12-disabled-in-registry",
    title="TLS 1.2 is turned off in the server's SCHANNEL settings",
    severity=Severity.ERROR,
    failure_mode="F8",
    meaning="The SCHANNEL registry key of TLS 1.2 for the client side (outbound: Exchange "
    "sending) or the server side (inbound: Exchange receiving) sets Enabled to 0 or "
    "DisabledByDefault to 1, so Exchange does not offer TLS 1.2 there, and peers that require "
    "it (Exchange Online among them) drop the handshake. Schannel events 36871, 36874 or a "
    "protocol_version alert (36887/36888) show the failures it causes.",
    needs=("a reg export or Get-ItemProperty of the SCHANNEL Protocols\\TLS 1.2 keys",),
    remedy="Set Enabled=1 and DisabledByDefault=0 under the TLS 1.2 Client (and Server) key, "
    "creating the key if it is missing, then restart the server.",
    references=(TLS_GUIDANCE, HEALTH_CHECKER_TLS),
    selection="Server-wide: the SCHANNEL Protocols\\TLS 1.2 key of each side (client, "
    "server) the export covers; a side it does not cover is not judged.",
    contradiction="None: the registry decides what Schannel offers; Schannel events and "
    "dropped handshakes are cited as corroboration.",
    inputs=("tls-settings",),
    side=FaultSide.LOCAL,
)
def tls12_disabled_in_registry(context: Context) -> Iterator[Finding]:
    """TLS 1.2 not offered on a side, from the registry, with Schannel events as corroboration."""
    settings = _settings(context)
    if settings is None:
        return
    off = [
        setting
        for side in Side
        if (setting := settings.protocol("TLS 1.2", side)) is not None and _tls12_off(setting)
    ]
    if not off:
        return
    failures: list[EventRecord] = schannel_failures(context)
    for setting in off:
        # An event that names the other side is not evidence for this one.
        evidence = [event for event in failures if event_side(event) in (None, setting.side)]
        side = (
            "client (outbound: Exchange sending)"
            if setting.side is Side.CLIENT
            else ("server (inbound: Exchange receiving)")
        )
        refs = []
        if setting.enabled is False:
            refs.append(
                _value_ref(
                    setting.enabled_value,
                    f"TLS 1.2 is disabled for the {side}",
                    setting.key,
                    "Enabled",
                )
            )
        if setting.disabled_by_default:
            refs.append(
                _value_ref(
                    setting.disabled_by_default_value,
                    f"TLS 1.2 is not offered by default for the {side}",
                    setting.key,
                    "DisabledByDefault",
                )
            )
        refs.extend(event_ref(event, schannel_claim(event)) for event in evidence[:5])
        refs.extend(_dropped_handshakes(context, setting.side))
        yield finding(
            "tls12-disabled-in-registry",
            summary=(
                f"TLS 1.2 is turned off for the {side} side in the registry: change "
                f"{powershell_path(setting.key)} (Enabled=1, DisabledByDefault=0) and restart "
                "the server."
            ),
            evidence=tuple(refs),
            confidence=Confidence.HIGH,
            preconditions=("the registry export is of this server and is current",),
            remediation=registry_steps(
                [(setting.key, setting.key_exists, [("Enabled", 1), ("DisabledByDefault", 0)])]
            ),
            subject=f"TLS 1.2 {setting.side.value}",
        )


# -- TLS 1.3 enabled ---------------------------------------------------------------------


@rule(
    rule_id="tls13-enabled-in-registry",
    title="TLS 1.3 is turned on where Exchange Server does not support it",
    severity=Severity.ERROR,
    failure_mode=None,
    meaning="The SCHANNEL key of TLS 1.3 sets Enabled to 1 for a side. Microsoft's "
    "HealthChecker accepts TLS 1.3 only on Exchange Server 2019 CU15 or Exchange Server SE on "
    "Windows Server 2022 or later, and reports it as an error elsewhere (known to cause "
    "issues). The rule reads the server inventory (Get-ExchangeServer, Win32_OperatingSystem) "
    "and says so when it is missing; on a build and Windows HealthChecker accepts, it is "
    "silent.",
    needs=("a reg export or Get-ItemProperty of the SCHANNEL Protocols\\TLS 1.3 keys",),
    remedy="Set Enabled=0 and DisabledByDefault=1 under the TLS 1.3 Client and Server keys, "
    "then restart the server.",
    references=(HEALTH_CHECKER_TLS,),
    selection="Server-wide: the SCHANNEL Protocols\\TLS 1.3 keys in the export.",
    contradiction="None: configuration only.",
    inputs=("tls-settings",),
    side=FaultSide.LOCAL,
)
def tls13_enabled_in_registry(context: Context) -> Iterator[Finding]:
    """TLS 1.3 explicitly enabled (a value read, never a default)."""
    settings = _settings(context)
    if settings is None:
        return
    on = [
        setting
        for side in Side
        if (setting := settings.protocol("TLS 1.3", side)) is not None
        and setting.enabled_value is not None
        and setting.enabled is True
    ]
    if not on:
        return
    # Whether TLS 1.3 is supported depends on the build and Windows: the inventory tells.
    support = tls13_support(context.evidence.inventory)
    if support.supported:
        return
    sides = " and ".join(setting.side.value.lower() for setting in on)
    if support.supported is False:
        advice = f"; {support.reason} Turn it off and restart."
    else:
        advice = f"; turn it off and restart unless the server qualifies. {support.reason}"
    yield finding(
        "tls13-enabled-in-registry",
        summary=f"TLS 1.3 is enabled for the {sides} side" + advice,
        evidence=tuple(
            _value_ref(
                setting.enabled_value,
                f"TLS 1.3 is enabled for the {setting.side.value.lower()}",
                setting.key,
                "Enabled",
            )
            for setting in on
        ),
        confidence=Confidence.HIGH,
        remediation=registry_steps(
            [
                (setting.key, setting.key_exists, [("Enabled", 0), ("DisabledByDefault", 1)])
                for setting in on
            ]
        ),
        subject="TLS 1.3",
        side=FaultSide.LOCAL,
    )


# -- client and server differ ------------------------------------------------------------


def _values(setting: ProtocolSetting) -> tuple[bool | None, bool | None]:
    return setting.enabled, setting.disabled_by_default


@rule(
    rule_id="tls-client-server-mismatch",
    title="A TLS version is set differently for the client and the server side",
    severity=Severity.WARNING,
    failure_mode=None,
    meaning="The Client and Server keys of a TLS version disagree on Enabled or "
    "DisabledByDefault (absent values taking the Windows default). HealthChecker reports this "
    "as Misconfigured: Exchange is both a client and a server, and Microsoft's guidance sets "
    "a version alike on both sides. (TLS 1.2 turned off on one side is its own finding, "
    "tls12-disabled-in-registry.)",
    needs=("a reg export of the SCHANNEL Protocols key",),
    remedy="Give the Client and Server keys of the version the same Enabled and "
    "DisabledByDefault values, then restart the server.",
    references=(HEALTH_CHECKER_TLS, TLS_GUIDANCE),
    selection="Server-wide: each TLS version whose Client and Server keys are both in the export.",
    contradiction="None: configuration only.",
    inputs=("tls-settings",),
    side=FaultSide.LOCAL,
)
def tls_client_server_mismatch(context: Context) -> Iterator[Finding]:
    """Find TLS versions whose Client and Server values differ."""
    settings = _settings(context)
    if settings is None:
        return
    for version in ("TLS 1.0", "TLS 1.1", "TLS 1.2"):
        client = settings.protocol(version, Side.CLIENT)
        server = settings.protocol(version, Side.SERVER)
        if client is None or server is None or _values(client) == _values(server):
            continue
        if None in (*_values(client), *_values(server)):
            continue
        if version == "TLS 1.2" and (client.offered is False or server.offered is False):
            continue  # tls12-disabled-in-registry says which side to turn back on
        # Follow the side that offers the version less: the safer of the two settings.
        off, on = (client, server) if not client.offered else (server, client)
        target = [
            ("Enabled", int(bool(off.enabled))),
            ("DisabledByDefault", int(bool(off.disabled_by_default))),
        ]
        refs = [
            _value_ref(
                off.enabled_value, f"{version} {off.side.value}: Enabled", off.key, "Enabled"
            ),
            _value_ref(
                off.disabled_by_default_value,
                f"{version} {off.side.value}: DisabledByDefault",
                off.key,
                "DisabledByDefault",
            ),
            _value_ref(on.enabled_value, f"{version} {on.side.value}: Enabled", on.key, "Enabled"),
            _value_ref(
                on.disabled_by_default_value,
                f"{version} {on.side.value}: DisabledByDefault",
                on.key,
                "DisabledByDefault",
            ),
        ]
        yield finding(
            "tls-client-server-mismatch",
            summary=(
                f"{version} is set differently for the client and the server side: set "
                f"{powershell_path(on.key)} like {powershell_path(off.key)} "
                f"(Enabled={target[0][1]}, DisabledByDefault={target[1][1]})."
            ),
            evidence=tuple(refs),
            confidence=Confidence.HIGH,
            remediation=registry_steps([(on.key, on.key_exists, target)]),
            subject=version,
        )


# -- .NET values missing -------------------------------------------------------------------


def _dotnet_label(setting: DotNetSetting) -> str:
    return f".NET {setting.version} ({'32-bit, Wow6432Node' if setting.wow6432 else '64-bit'})"


@rule(
    rule_id="dotnet-tls-settings-missing",
    title=".NET Framework is not set to use the system's TLS versions and strong crypto",
    severity=Severity.ERROR,
    failure_mode="F8",
    meaning="SystemDefaultTlsVersions and SchUseStrongCrypto are not both 1 under a .NET "
    "Framework key (v4.0.30319 or v2.0.50727, 64- or 32-bit). Exchange's .NET code then "
    "does not follow the Schannel settings and may offer old TLS versions or weak ciphers; "
    "HealthChecker checks all four keys and reports a missing value as an error.",
    needs=("a reg export or Get-ItemProperty of the .NET Framework keys",),
    remedy="Set SystemDefaultTlsVersions=1 and SchUseStrongCrypto=1 under each key, then "
    "restart the server.",
    references=(TLS_GUIDANCE, HEALTH_CHECKER_TLS),
    selection="Server-wide: the .NET Framework v4 and v2.0.50727 keys, 64- and 32-bit, in "
    "the export.",
    contradiction="None: configuration only.",
    inputs=("tls-settings",),
    side=FaultSide.LOCAL,
)
def dotnet_tls_settings_missing(context: Context) -> Iterator[Finding]:
    """SystemDefaultTlsVersions / SchUseStrongCrypto not 1 under a covered .NET key."""
    settings = _settings(context)
    if settings is None:
        return
    changes: list[tuple[str, bool, list[tuple[str, int]]]] = []
    refs: list[EvidenceRef] = []
    for setting in settings.dotnet:
        missing = []
        if not setting.uses_system_defaults:
            missing.append(("SystemDefaultTlsVersions", setting.system_default_tls_versions))
        if not setting.strong_crypto:
            missing.append(("SchUseStrongCrypto", setting.sch_use_strong_crypto))
        if not missing:
            continue
        changes.append((setting.key, setting.key_exists, [(name, 1) for name, _ in missing]))
        refs.extend(
            _value_ref(value, f"{_dotnet_label(setting)}: {name} is not 1", setting.key, name)
            for name, value in missing
        )
    if not changes:
        return
    yield finding(
        "dotnet-tls-settings-missing",
        summary=(
            f"{plural(len(changes), '.NET Framework key')} "
            + ("lacks" if len(changes) == 1 else "lack")
            + " SystemDefaultTlsVersions=1 or SchUseStrongCrypto=1: set "
            + ("it" if len(changes) == 1 else "them")
            + " and restart the server."
        ),
        evidence=tuple(refs),
        confidence=Confidence.HIGH,
        remediation=registry_steps(changes),
        subject=".NET Framework",
    )


# -- event 12014 ------------------------------------------------------------------------

_12014 = re.compile(
    r"domain name\s*(?P<fqdn>\S*?)\s+in the personal store.*?for the connector "
    r"(?P<connector>.+?) with a FQDN parameter of\s*(?P<param>\S*?)\.?(?:\s+If\s|\s*$)",
    re.DOTALL,
)


_MESSAGE_CAP = 2000


def _12014_details(event: EventRecord) -> tuple[str | None, str | None]:
    """Return the FQDN and the connector an event 12014 names, where it names them."""
    # A real 12014 message is under a kilobyte; a cap keeps the lazy pattern linear.
    match = _12014.search((event.message or "")[:_MESSAGE_CAP])
    if match is not None:
        fqdn = match.group("fqdn").rstrip(".") or match.group("param").rstrip(".") or None
        return fqdn, match.group("connector").strip() or None
    data = [value for _, value in event.data or ()]
    if len(data) >= 2:
        return data[0] or None, data[1] or None
    return None, None


@rule(
    rule_id="starttls-certificate-missing-event",
    title="Exchange logged that no certificate holds a connector's FQDN (event 12014)",
    severity=Severity.ERROR,
    failure_mode="F7",
    meaning="MSExchangeTransport or MSExchangeFrontEndTransport event 12014: no certificate in "
    "the personal store contains the connector's FQDN (or its TlsCertificateName), so the "
    "connector does not offer STARTTLS. On a receive connector, senders that require TLS "
    "(Exchange Online: '451 5.7.3 STARTTLS is required to send mail') cannot deliver; it is "
    "the receiving side of remote-starttls-unavailable and the event form of "
    "no-certificate-for-connector-fqdn.",
    needs=("event 12014 from Get-WinEvent, Get-EventLog, wevtutil or .evtx",),
    remedy="Find a certificate for the FQDN (Get-ExchangeCertificate -DomainName), enable it "
    "for SMTP, or set the connector's FQDN to a name the certificate holds.",
    references=(EVENT_12014,),
    selection="The connector or FQDN the event names.",
    contradiction="None: the event is Exchange's own record of the failure.",
    inputs=("events",),
    side=FaultSide.LOCAL,
)
def starttls_certificate_missing_event(context: Context) -> Iterator[Finding]:
    """Event 12014, one finding per FQDN and connector it names."""
    by_subject: dict[tuple[str | None, str | None], list[EventRecord]] = {}
    for event in context.evidence.events:
        meaning = event.meaning
        if meaning is None or meaning.family is not Family.TRANSPORT or event.event_id != 12014:
            continue
        by_subject.setdefault(_12014_details(event), []).append(event)
    for (fqdn, connector), events in sorted(by_subject.items(), key=lambda item: str(item[0])):
        events.sort(key=lambda e: (e.time is None, e.time, str(e.source)))
        refs = [
            event_ref(
                event,
                "Exchange cannot support STARTTLS on the connector: no certificate for its FQDN",
            )
            for event in events[:3]
        ]
        steps: list[RemediationStep] = []
        confidence = Confidence.MEDIUM
        if fqdn:
            steps.append(
                RemediationStep(
                    purpose=Purpose.CHECK,
                    command=GetExchangeCertificate(
                        domain_name=fqdn,
                        properties=("Thumbprint", "Services", "NotAfter", "Subject"),
                    ),
                    note="The first certificate listed is the one Exchange would choose.",
                )
            )
            candidates = [
                c
                for c in certificates_for(context, fqdn)
                if c.thumbprint and len(c.thumbprint) == 40
            ]
            if candidates:
                chosen = max(candidates, key=lambda c: (c.not_after is not None, c.not_after))
                if chosen.services is not None and Services.SMTP not in chosen.services:
                    assert chosen.thumbprint is not None  # noqa: S101 -- filtered above
                    steps.append(
                        RemediationStep(
                            purpose=Purpose.FIX,
                            command=EnableExchangeCertificate(
                                thumbprint=chosen.thumbprint, services="SMTP"
                            ),
                            note="Answer N when asked to overwrite the default SMTP certificate.",
                        )
                    )
                    confidence = Confidence.HIGH
        where = f"the connector {connector}" if connector else "a connector"
        name = f"the FQDN {fqdn}" if fqdn else "its FQDN"
        yield finding(
            "starttls-certificate-missing-event",
            summary=(
                f"Exchange logged event 12014 {plural(len(events), 'time')}: no certificate holds "
                f"{name}, so {where} does not offer STARTTLS."
            ),
            evidence=tuple(refs),
            confidence=confidence,
            preconditions=("the events are recent enough to describe the current state",),
            remediation=tuple(steps),
            subject=f"{connector or ''} {fqdn or ''}".strip() or "event 12014",
        )


# -- receive connector and hybrid TlsCertificateName --------------------------------------


def _render_name(certificate: ExchangeCertificate) -> str:
    return f"<I>{certificate.issuer}<S>{certificate.subject}"


def _connector_ref(connector: ReceiveConnector, claim: str) -> EvidenceRef:
    label = connector.identity or connector.name
    excerpt = f"{label}: TlsCertificateName {connector.tls_certificate_name}"
    return EvidenceRef(source=connector.source, excerpt=shorten(excerpt), claim=claim)


def _hybrid_ref(hybrid: HybridConfiguration, claim: str) -> EvidenceRef:
    excerpt = (
        f"{hybrid.name or 'Hybrid Configuration'}: TlsCertificateName {hybrid.tls_certificate_name}"
    )
    return EvidenceRef(
        source=hybrid.tls_certificate_name_source or hybrid.source,
        excerpt=shorten(excerpt),
        claim=claim,
    )


@rule(
    rule_id="hybrid-certificate-mismatch",
    title="The hybrid configuration names a certificate other than the one in use",
    severity=Severity.ERROR,
    failure_mode="F13",
    meaning="Get-HybridConfiguration's TlsCertificateName names no certificate in the store, "
    "or a different certificate from the one the receive connectors present. Exchange Online "
    "is configured from it, so after a renewal mail between the organisations fails until it "
    "names the new certificate.",
    needs=("Get-HybridConfiguration, and the certificate list or the receive connectors",),
    remedy="Set-HybridConfiguration -TlsCertificateName '<I>issuer<S>subject' of the "
    "certificate in use, or re-run the Hybrid Configuration Wizard (which also updates the "
    "Exchange Online connectors).",
    references=(HYBRID_NEW_CERTIFICATE, SET_HYBRID),
    selection="The certificate Get-HybridConfiguration names, against the store and the receive "
    "connectors' TlsCertificateName.",
    contradiction="None: configuration only.",
    inputs=(
        "certificates+hybrid-configuration",
        "hybrid-configuration+receive-connectors",
    ),
    side=FaultSide.LOCAL,
)
def hybrid_certificate_mismatch(context: Context) -> Iterator[Finding]:
    """Find a hybrid TlsCertificateName not in the store, or not the connectors'."""
    for hybrid in context.evidence.hybrid_configurations:
        name = hybrid.tls_certificate_name
        if name is None or name.issuer is None or name.subject is None:
            continue
        refs = [_hybrid_ref(hybrid, "the hybrid configuration names this certificate")]
        in_store = certificates_named(context, name) if context.certificates else None
        named_by_connectors = [
            connector
            for connector in context.evidence.receive_connectors
            if connector.tls_certificate_name is not None
            and connector.tls_certificate_name.issuer is not None
            and not same_name(connector.tls_certificate_name, name)
        ]
        target: str | None = None
        if in_store is not None and not in_store:
            problem = "names no certificate on the server"
            replacement = replacement_for(context, name)
            if replacement is not None:
                target = _render_name(replacement)
                refs.append(
                    EvidenceRef(
                        source=replacement.source,
                        excerpt=shorten(f"{replacement.thumbprint}: {target}"),
                        claim="the certificate in the store with the same subject",
                    )
                )
        elif named_by_connectors and not any(
            same_name(connector.tls_certificate_name, name)
            for connector in context.evidence.receive_connectors
        ):
            problem = "differs from the certificate the receive connectors present"
            connector = named_by_connectors[0]
            refs.append(_connector_ref(connector, "the receive connector presents this one"))
            if connector.tls_certificate_name is not None and (
                not context.certificates
                or certificates_named(context, connector.tls_certificate_name)
            ):
                target = connector.tls_certificate_name.render()
        else:
            continue
        steps = []
        if target is not None:
            steps.append(
                RemediationStep(
                    purpose=Purpose.FIX,
                    command=SetHybridConfiguration(tls_certificate_name=target),
                    note="Then re-run the Hybrid Configuration Wizard or update the Exchange "
                    "Online inbound connector's TlsSenderCertificateName to match.",
                )
            )
        yield finding(
            "hybrid-certificate-mismatch",
            summary=f"The hybrid configuration's TlsCertificateName {name.render()} {problem}.",
            evidence=tuple(refs),
            confidence=Confidence.HIGH if target is not None else Confidence.MEDIUM,
            remediation=tuple(steps),
            subject=hybrid.name or "Hybrid Configuration",
        )
