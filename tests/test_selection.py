"""Exchange's certificate selection: one criterion at a time, and the rules that rely on it."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange_tls import (
    CertificateStatus,
    Evidence,
    ExchangeCertificate,
    ReceiveConnector,
    SendConnector,
    Services,
    diagnose,
    parse_tls_certificate_name,
)
from exchange_tls.connectors.selection import select_certificate
from tests.builders import NOW, UTC, certificate

A = "A" * 40
B = "B" * 40


def base(thumbprint: str = A, **changes: Any) -> ExchangeCertificate:
    """Return a fit certificate for mail.contoso.com (key, valid, CA-issued, SMTP only)."""
    return certificate(thumbprint, **{"services": Services.SMTP, **changes})


# Each row: the criterion, the changes that make certificate B worse than A in it alone,
# and the reason the selection gives for passing B over.
CRITERIA = [
    ("private key", {"has_private_key": False}, "it has no private key"),
    ("expired", {"not_after": dt.datetime(2024, 5, 1, tzinfo=UTC)}, "it expired on 2024-05-01"),
    (
        "not yet valid",
        {"not_before": dt.datetime(2024, 7, 1, tzinfo=UTC)},
        "it is valid only from 2024-07-01",
    ),
    (
        "status DateInvalid",
        {"status": CertificateStatus.DATE_INVALID},
        "its Status is DateInvalid",
    ),
    (
        "CA before self-signed",
        {"is_self_signed": True, "issuer": "CN=mail.contoso.com"},
        "a certificate from a CA comes before a self-signed one",
    ),
    (
        "most recent NotBefore",
        {"not_before": dt.datetime(2023, 6, 1, tzinfo=UTC)},
        "a certificate with a more recent NotBefore comes first",
    ),
    (
        "exact before wildcard",
        {"subject": "CN=*.contoso.com", "certificate_domains": ("*.contoso.com",)},
        "an exact name comes before a wildcard",
    ),
]
CONNECTORS = [
    SendConnector(name="Out", fqdn="mail.contoso.com"),
    ReceiveConnector(name="Default Frontend EX01", fqdn="mail.contoso.com"),
]


@pytest.mark.parametrize("connector", CONNECTORS, ids=["send", "receive"])
@pytest.mark.parametrize(("criterion", "worse", "reason"), CRITERIA, ids=[c[0] for c in CRITERIA])
@pytest.mark.parametrize("order", ["better-first", "worse-first"])
def test_a_pair_differing_in_one_criterion_picks_the_better(
    connector: SendConnector | ReceiveConnector,
    criterion: str,
    worse: dict[str, object],
    reason: str,
    order: str,
) -> None:
    """Two certificates differing in one documented criterion: the better one is chosen."""
    better, other = base(A), base(B, **worse)
    inventory = [better, other] if order == "better-first" else [other, better]
    selection = select_certificate(connector, inventory, now=NOW)
    assert selection.chosen is better, criterion
    assert [c.certificate for c in selection.candidates] == [better, other]
    assert selection.reasons()[0].startswith("Exchange would present CN=mail.contoso.com")
    assert selection.reasons()[1].endswith(reason)


def test_the_auth_certificate_is_never_a_candidate() -> None:
    """The Exchange Auth certificate is excluded even when it carries the name."""
    auth = base(
        B,
        subject="CN=Microsoft Exchange Server Auth Certificate",
        certificate_domains=("mail.contoso.com",),
        not_before=dt.datetime(2024, 5, 1, tzinfo=UTC),
    )
    selection = select_certificate(CONNECTORS[0], [auth], now=NOW)
    assert selection.chosen is None
    assert selection.candidates == ()
    assert selection.excluded[0][0] is auth
    assert selection.reasons()[-1].endswith(
        "it is the Exchange Auth certificate, used for OAuth, never for SMTP TLS"
    )


def test_tls_certificate_name_presents_the_named_certificate_even_unfit() -> None:
    """By TlsCertificateName, a keyless named certificate is still what Exchange presents."""
    named = base(A, has_private_key=False)
    connector = SendConnector(
        name="Out",
        fqdn="other.example",
        tls_certificate_name=parse_tls_certificate_name("<I>CN=Contoso CA<S>CN=mail.contoso.com"),
    )
    selection = select_certificate(connector, [named], now=NOW)
    assert selection.chosen is None
    assert selection.presented is named


def test_by_fqdn_no_fit_certificate_presents_nothing() -> None:
    """By FQDN, when every candidate is unfit, Exchange has no certificate to present."""
    selection = select_certificate(CONNECTORS[0], [base(A, has_private_key=False)], now=NOW)
    assert selection.presented is None


def test_unknown_facts_neither_exclude_nor_prefer() -> None:
    """A certificate whose key and dates are unknown stays a candidate."""
    unknown = ExchangeCertificate(thumbprint=A, subject="CN=mail.contoso.com")
    assert select_certificate(CONNECTORS[0], [unknown], now=NOW).chosen is unknown


# -- the rules judge the selected certificate ------------------------------------------------


def test_an_expired_certificate_no_connector_selects_is_not_reported() -> None:
    """An expired SMTP certificate for another name is not what the connector presents."""
    selected = base(A)
    stale = base(
        B,
        subject="CN=old.contoso.com",
        certificate_domains=("old.contoso.com",),
        not_after=dt.datetime(2024, 5, 1, tzinfo=UTC),
    )
    evidence = Evidence(
        certificates=[selected, stale],
        send_connectors=[SendConnector(name="Out", fqdn="mail.contoso.com")],
    )
    assert "certificate-expired" not in [f.rule_id for f in diagnose(evidence, now=NOW).findings]


def test_an_expired_selected_certificate_is_reported_with_the_connector() -> None:
    """The expired certificate the connector names is reported, naming the connector."""
    expired = base(A, not_after=dt.datetime(2024, 5, 1, tzinfo=UTC))
    connector = SendConnector(
        name="Out",
        fqdn="mail.contoso.com",
        tls_certificate_name=parse_tls_certificate_name("<I>CN=Contoso CA<S>CN=mail.contoso.com"),
    )
    diagnosis = diagnose(Evidence(certificates=[expired], send_connectors=[connector]), now=NOW)
    [finding] = [f for f in diagnosis.findings if f.rule_id == "certificate-expired"]
    assert "send connector 'Out' presents it" in finding.summary


def test_tls_certificate_name_to_nothing_names_only_a_fit_certificate() -> None:
    """TlsCertificateName naming nothing: the fix names a certificate only if one is fit."""
    name = parse_tls_certificate_name("<I>CN=Old CA<S>CN=mail.contoso.com")
    connector = SendConnector(name="Out", fqdn="mail.contoso.com", tls_certificate_name=name)
    for unfit in (
        base(A, has_private_key=False),
        base(A, services=Services.IIS),
        base(A, not_after=dt.datetime(2024, 5, 1, tzinfo=UTC)),
    ):
        diagnosis = diagnose(Evidence(certificates=[unfit], send_connectors=[connector]), now=NOW)
        [finding] = [f for f in diagnosis.findings if f.rule_id == "tls-certificate-name-not-found"]
        rendered = [step.command.render() for step in finding.remediation]
        assert not any(A in text for text in rendered), unfit
        assert any(text.startswith("New-ExchangeCertificate") for text in rendered)
        assert "a new certificate is needed" in finding.summary
    diagnosis = diagnose(Evidence(certificates=[base(A)], send_connectors=[connector]), now=NOW)
    [finding] = [f for f in diagnosis.findings if f.rule_id == "tls-certificate-name-not-found"]
    assert any(A in step.command.render() for step in finding.remediation)


def test_selection_is_the_same_whatever_the_input_order() -> None:
    """Shuffling the inventory does not change the choice."""
    certificates = [
        base(A),
        base(B, is_self_signed=True),
        attrs.evolve(base(A), thumbprint="C" * 40),
    ]
    first = select_certificate(CONNECTORS[0], certificates, now=NOW).chosen
    for rotation in range(len(certificates)):
        rotated = certificates[rotation:] + certificates[:rotation]
        chosen = select_certificate(CONNECTORS[0], rotated, now=NOW).chosen
        assert chosen is not None
        assert first is not None
        assert chosen.thumbprint == first.thumbprint == A


def test_an_expired_only_candidate_by_fqdn_is_reported_for_its_connector() -> None:
    """By FQDN, when the only certificate with the name has expired, certificate-expired says so."""
    expired = base(A, not_after=dt.datetime(2024, 5, 1, tzinfo=UTC))
    connector = SendConnector(name="Out", fqdn="mail.contoso.com")
    diagnosis = diagnose(Evidence(certificates=[expired], send_connectors=[connector]), now=NOW)
    [finding] = [f for f in diagnosis.findings if f.rule_id == "certificate-expired"]
    assert "would present" in finding.summary
    assert "'Out'" in finding.summary


certificates = st.builds(
    ExchangeCertificate,
    thumbprint=st.from_regex(r"[0-9A-F]{40}", fullmatch=True),
    subject=st.sampled_from(["CN=mail.contoso.com", "CN=*.contoso.com", "CN=other.example"]),
    issuer=st.sampled_from(["CN=Contoso CA", "CN=mail.contoso.com"]),
    has_private_key=st.one_of(st.none(), st.booleans()),
    is_self_signed=st.one_of(st.none(), st.booleans()),
    not_before=st.one_of(
        st.none(),
        st.datetimes(
            min_value=dt.datetime(2023, 1, 1),
            max_value=dt.datetime(2025, 1, 1),
            timezones=st.just(UTC),
        ),
    ),
    not_after=st.one_of(
        st.none(),
        st.datetimes(
            min_value=dt.datetime(2024, 1, 1),
            max_value=dt.datetime(2026, 1, 1),
            timezones=st.just(UTC),
        ),
    ),
)


@settings(max_examples=200)
@given(st.lists(certificates, max_size=6, unique_by=lambda c: c.thumbprint), st.randoms())
def test_the_choice_is_fit_and_independent_of_order(
    inventory: list[ExchangeCertificate], rng: random.Random
) -> None:
    """Whatever the store holds, the choice is fit, carries the name, and ignores input order."""
    connector = CONNECTORS[0]
    selection = select_certificate(connector, inventory, now=NOW)
    shuffled = rng.sample(inventory, len(inventory))
    again = select_certificate(connector, shuffled, now=NOW)
    assert [c.certificate for c in selection.candidates] == [
        c.certificate for c in again.candidates
    ]
    if selection.chosen is not None:
        assert selection.chosen.has_private_key is not False
        assert selection.chosen.subject != "CN=other.example"
        assert not (selection.chosen.not_after is not None and selection.chosen.not_after < NOW)
    expected_reasons = len(selection.candidates) + len(selection.excluded)
    assert len(selection.reasons()) == (expected_reasons if selection.candidates else 1)


# -- the receive side, as "Selection of inbound STARTTLS certificates" documents it ------


def frontend(**changes: object) -> ReceiveConnector:
    """Return a Frontend receive connector on ex01.contoso.local with TLS enabled."""
    values: dict[str, object] = {
        "name": "Default Frontend EX01",
        "fqdn": "ex01.contoso.local",
        "auth_mechanism": "Tls, Integrated, BasicAuth, BasicAuthRequireTLS, ExchangeServer",
    }
    values.update(changes)
    return ReceiveConnector(**values)  # type: ignore[arg-type]


SELF_SIGNED = base(
    B,
    subject="CN=EX01",
    issuer="CN=EX01",
    certificate_domains=("EX01", "ex01.contoso.local"),
    is_self_signed=True,
)


def test_inbound_without_tls_in_auth_mechanism_offers_no_starttls() -> None:
    """AuthMechanism without TLS: no STARTTLS advertised, no certificate loaded."""
    selection = select_certificate(frontend(auth_mechanism="Integrated"), [SELF_SIGNED], now=NOW)
    assert selection.offers_starttls is False
    assert selection.presented is None
    assert "AuthMechanism lacks TLS" in selection.reasons()[0]


def test_inbound_fqdn_matching_only_the_self_signed_certificate_presents_it() -> None:
    """The connector's FQDN is the server's: only the self-signed certificate carries it."""
    selection = select_certificate(frontend(), [base(), SELF_SIGNED], now=NOW)
    assert selection.presented is SELF_SIGNED
    assert selection.offers_starttls is True
    assert "the self-signed one is used" in selection.reasons()[0]


def test_inbound_fqdn_of_the_ca_certificate_presents_it() -> None:
    """A near miss: the FQDN is mail.contoso.com, the CA-issued certificate is presented."""
    selection = select_certificate(frontend(fqdn="mail.contoso.com"), [base(), SELF_SIGNED])
    assert selection.presented is not None
    assert selection.presented.thumbprint == A


def test_inbound_no_certificate_for_the_name_means_no_starttls_and_12014() -> None:
    """No candidate: STARTTLS is not advertised and event 12014 is logged."""
    selection = select_certificate(frontend(fqdn="smtp.fabrikam.com"), [base()], now=NOW)
    assert selection.offers_starttls is False
    assert any("event 12014" in reason for reason in selection.reasons())


def test_inbound_expired_only_candidate_is_still_presented_with_12016() -> None:
    """Documented: an expired certificate is still presented, STARTTLS still advertised."""
    expired = base(not_after=dt.datetime(2024, 5, 1, tzinfo=UTC))
    selection = select_certificate(frontend(fqdn="mail.contoso.com"), [expired], now=NOW)
    assert selection.presented is expired
    assert selection.offers_starttls is True
    assert "event 12016" in selection.reasons()[0]


def test_send_side_expired_only_candidate_is_not_presented() -> None:
    """A near miss for the rule above: a send connector by FQDN presents nothing then."""
    expired = base(not_after=dt.datetime(2024, 5, 1, tzinfo=UTC))
    selection = select_certificate(
        SendConnector(name="Out", fqdn="mail.contoso.com"), [expired], now=NOW
    )
    assert selection.presented is None
    assert selection.offers_starttls is None


def test_inbound_auth_mechanism_as_a_number_is_not_guessed() -> None:
    """A JSON export writes the flags as a number: not read, so not judged."""
    selection = select_certificate(frontend(auth_mechanism="3"), [SELF_SIGNED], now=NOW)
    assert selection.tls_not_enabled is None
    assert selection.presented is SELF_SIGNED
