import base64
import contextlib
import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange_tls import (
    CertificateStatus,
    DistinguishedName,
    ExchangeCertificate,
    ParseError,
    RootCAType,
    Services,
    TlsCertificateName,
    parse_certificates,
    parse_tls_certificate_name,
    read_certificates,
)
from exchange_tls.certificates.nrbf import NrbfError, read_nrbf
from exchange_tls.powershell.reader import read_records
from exchange_tls.sources import read_source

DATA = Path(__file__).parent / "data"
CORPUS = sorted((DATA / "corpus" / "certificates").glob("*.xml"))
UTC = dt.timezone.utc


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("IP.WS..", Services.IMAP | Services.POP | Services.IIS | Services.SMTP),
        ("....S..", Services.SMTP),
        (".......", Services.NONE),
        ("IP.W..", Services.IMAP | Services.POP | Services.IIS),
        ("...WS..", Services.IIS | Services.SMTP),
        (".P....", Services.POP),
        ("IPUWSFC", Services(127)),
        ("IMAP, POP, IIS, SMTP", Services(27)),
        ("None", Services.NONE),
        ("SMTP", Services.SMTP),
        ("UMCallRouter, Federation", Services.UMCALLROUTER | Services.FEDERATION),
        ("27", Services(27)),
        (25, Services.IMAP | Services.IIS | Services.SMTP),
    ],
)
def test_services_parse_from_every_form(text: str | int, expected: Services) -> None:
    """Flag strings of 6 and 7 letters, names and numbers map to the right Services."""
    assert Services.parse(text) == expected


@pytest.mark.parametrize("text", ["PI.WS..", "XYZ", "IMAP, WEB", "128", "-1"])
def test_services_refuse_what_they_cannot_be(text: str) -> None:
    """A letter out of place, an unknown name or number is a ValueError."""
    with pytest.raises(ValueError, match=r"service|Services|cannot stand"):
        Services.parse(text)


@given(st.integers(min_value=0, max_value=127))
def test_services_render_and_parse_back(value: int) -> None:
    """Every Services value survives its name form and its flag string."""
    services = Services(value)
    assert Services.parse(str(services)) == services
    assert Services.parse(services.to_flag_string()) == services


# -- the corpus ------------------------------------------------------------------------


@pytest.mark.parametrize("path", CORPUS, ids=lambda path: path.name[:60])
def test_corpus_files_parse_and_thumbprints_are_the_sha1_of_raw_data(path: Path) -> None:
    """Every CSS-Exchange CLIXML file parses; each thumbprint is the SHA-1 of RawData."""
    result = read_certificates(path)
    decoded = read_source(path)
    _, records, _ = read_records(decoded.lines, source="x")
    assert len(result) == len(records) > 0
    for certificate, record in zip(result, records, strict=True):
        raw = record.value_of("RawData")
        assert isinstance(raw, bytes)
        assert (
            certificate.thumbprint == hashlib.sha1(raw, usedforsecurity=False).hexdigest().upper()
        )
        assert certificate.subject
        assert certificate.not_after is not None
        assert certificate.not_after.tzinfo is UTC
    assert not [p for p in result.problems if p.code != "lax-certificate"]


def test_serialization_data_27_is_imap_pop_iis_smtp() -> None:
    """Where SerializationData says 27, the self-signed server certificate has all four."""
    [auth, server, wmsvc] = read_certificates(
        DATA
        / "corpus/certificates/css-exchange_healthchecker_e16_get-exchangecertificate_clixml.xml"
    )
    assert server.services == Services.IMAP | Services.POP | Services.IIS | Services.SMTP
    assert (server.subject, server.is_self_signed) == ("CN=Solo-E16A", True)
    assert (server.root_ca_type, server.status) == (RootCAType.REGISTRY, CertificateStatus.VALID)
    assert auth.services == Services.SMTP
    assert auth.root_ca_type is RootCAType.NONE
    assert wmsvc.services == Services.NONE


def test_without_serialization_data_services_status_and_root_are_unknown() -> None:
    """The 'broken' corpus file has no SerializationData: those fields are None."""
    result = read_certificates(
        DATA
        / "corpus/certificates/css-exchange_healthchecker-datacollection_GetExchangeCertificateBroken_clixml.xml"
    )
    assert len(result) == 5
    assert {(c.services, c.status, c.root_ca_type) for c in result} == {(None, None, None)}
    germany = [c for c in result if c.subject and "Cologne" in c.subject]
    assert germany[0].subject == "CN=domain.com, OU=IT, O=Contoso, L=Cologne, S=NRW, C=Germany"
    assert [p.code for p in result.problems] == ["lax-certificate"]


def test_subject_alternative_names_come_from_raw_data() -> None:
    """CertificateDomains come from the certificate's SAN extension."""
    result = read_certificates(
        DATA / "corpus/certificates/css-exchange_monitorauthcert_GetExchangeCertificate_clixml.xml"
    )
    mail = next(c for c in result if c.subject == "CN=mail.contoso.lab")
    assert mail.certificate_domains == (
        "mail.contoso.lab",
        "autodiscover.contoso.lab",
        "e2k16-1.contoso.lab",
        "e2k16-2.contoso.lab",
    )
    assert mail.services == Services.IIS
    assert mail.public_key_size == 2048


# -- text samples -----------------------------------------------------------------------


def test_kb4051498_style_list_inventory() -> None:
    """The KB's third-party certificate reads with Services IMAP, POP, IIS, not SMTP."""
    [certificate] = read_certificates(
        DATA / "constructed/get-exchangecertificate-kb4051498-fl.txt", date_order="MDY"
    )
    assert certificate.services == Services.IMAP | Services.POP | Services.IIS
    assert certificate.smtp_enabled is False
    assert certificate.root_ca_type is RootCAType.THIRD_PARTY
    assert certificate.status is CertificateStatus.VALID
    assert certificate.thumbprint == "054FB2800CE2E07A56DE07920D3C9847D3058CE1"
    assert certificate.not_after == dt.datetime(2019, 3, 14, 23, 59, 59, tzinfo=UTC)
    assert certificate.certificate_domains == ("*.domain.com", "domain.com")
    assert certificate.has_private_key is True


def test_russian_locale_list_reads_three_certificates() -> None:
    """The ru-RU list has dd.MM.yyyy dates; with DMY they read, and Services map."""
    result = read_certificates(
        DATA
        / "certificates/msqa-1166428_ex-ru-locale_get-exchangecertificate_fl_3certs_ddmmyyyy.txt",
        date_order="DMY",
    )
    assert [str(c.services) for c in result] == ["SMTP", "IMAP, POP, IIS, SMTP", "None"]
    assert result[0].not_after is not None
    assert result[0].not_after.year == 2028


def test_australian_list_dates_are_ambiguous_without_a_hint() -> None:
    """12/02/2018 is never guessed: None and a warning unless DMY is given."""
    path = (
        DATA
        / "certificates/mattallford-blog_ex2013_get-exchangecertificate_fl_rootcatype-registry_truncated-no-subject.txt"
    )
    [certificate] = read_certificates(path)
    assert certificate.not_after is None
    assert certificate.subject is None
    assert certificate.root_ca_type is RootCAType.REGISTRY
    [dated] = read_certificates(path, date_order="DMY")
    assert dated.not_after == dt.datetime(2018, 2, 12, 13, 53, tzinfo=UTC)


def test_default_table_with_annotations() -> None:
    """The lab table reads four certificates with their flag-string services."""
    result = read_certificates(
        DATA
        / "certificates/lab-script-comment_ex2016-19_get-exchangecertificate_table_annotated.txt"
    )
    assert result.format == "table"
    assert [str(c.services) for c in result] == [
        "IIS, SMTP",
        "IMAP, POP, IIS, SMTP",
        "SMTP",
        "None",
    ]


def test_truncated_subject_in_a_table_is_marked() -> None:
    """A subject cut with '...' is marked truncated and kept without the dots."""
    [certificate] = parse_certificates(
        "Thumbprint                                Services   Subject\n"
        "----------                                --------   -------\n"
        "B8FFF722AAF9E4CFA055581061F6020C70BAC8AF  IP.WS..    CN=webmail.ex...\n"
    )
    assert certificate.subject == "CN=webmail.ex"
    assert certificate.subject_truncated


@pytest.mark.parametrize(
    ("name", "format_name"),
    [("get-exchangecertificate.json", "json"), ("get-exchangecertificate.csv", "csv")],
)
def test_json_and_csv_exports(name: str, format_name: str) -> None:
    """JSON (numbers or names, /Date() and objects) and CSV read the same certificate."""
    result = read_certificates(DATA / "constructed" / name, date_order="MDY")
    assert result.format == format_name
    certificate = result[0]
    assert certificate.services == Services.IMAP | Services.POP | Services.IIS
    assert certificate.status is CertificateStatus.VALID
    assert certificate.root_ca_type is RootCAType.THIRD_PARTY
    assert certificate.not_after == dt.datetime(2019, 3, 14, 23, 59, 59, tzinfo=UTC)
    assert certificate.not_before == dt.datetime(2017, 3, 14, tzinfo=UTC)


def test_unknown_status_number_is_kept_raw() -> None:
    """A Status number whose name is not known for sure is kept as the number."""
    [certificate] = parse_certificates(
        json.dumps({"Thumbprint": "AB" * 20, "Status": 4, "RootCAType": 1})
    )
    assert (certificate.status, certificate.root_ca_type) == (4, 1)


# -- hostile input ----------------------------------------------------------------------

CLIXML_HEAD = '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'


def _clixml(raw: str, serialization: str = "") -> str:
    extra = f'<BA N="SerializationData">{serialization}</BA>' if serialization else ""
    return (
        f'{CLIXML_HEAD}<Obj RefId="0"><TN RefId="0"><T>Deserialized.Microsoft.Exchange.Management.'
        "SystemConfigurationTasks.ExchangeCertificate</T></TN><Props>"
        f'<BA N="RawData">{raw}</BA>{extra}</Props></Obj></Objs>'
    )


def test_corrupt_der_is_a_problem() -> None:
    """RawData that is not a certificate is reported, and the record kept."""
    result = parse_certificates(_clixml(base64.b64encode(b"not a certificate").decode()))
    [certificate] = result
    assert certificate.thumbprint is None
    assert [p.code for p in result.problems] == ["bad-der"]


def test_wrong_base64_is_a_problem_not_a_crash() -> None:
    """Base64 that does not decode leaves RawData as text; nothing raises."""
    result = parse_certificates(_clixml("!!!not base64!!!"))
    assert len(result) == 1


def test_corrupt_serialization_data_is_a_problem() -> None:
    """SerializationData that is not a binary stream is reported."""
    raw = read_source(
        DATA
        / "corpus/certificates/css-exchange_healthchecker_e16_get-exchangecertificate_clixml.xml"
    )
    der = read_records(raw.lines, source="x")[1][0].value_of("RawData")
    assert isinstance(der, bytes)
    result = parse_certificates(
        _clixml(base64.b64encode(der).decode(), base64.b64encode(b"\x01junk").decode())
    )
    assert [p.code for p in result.problems] == ["bad-nrbf"]
    assert result[0].services is None


def test_truncated_xml_and_entities_are_problems() -> None:
    """Truncated CLIXML and entity declarations give problems, never exceptions."""
    truncated = parse_certificates(_clixml("AAAA")[:150])
    assert [p.code for p in truncated.problems] == ["xml-error"]
    laughs = parse_certificates(
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>' + CLIXML_HEAD + "<S>&a;</S></Objs>"
    )
    assert [p.code for p in laughs.problems] == ["xml-unsafe"]


def _real_nrbf() -> bytes:
    raw = read_source(
        DATA
        / "corpus/certificates/css-exchange_healthchecker_e16_get-exchangecertificate_clixml.xml"
    )
    data = read_records(raw.lines, source="x")[1][1].value_of("SerializationData")
    assert isinstance(data, bytes)
    return data


def test_nrbf_root_members() -> None:
    """The NRBF reader gives the ExchangeCertificate's members and the enum values."""
    root = read_nrbf(_real_nrbf())
    assert (
        root.class_name
        == "Microsoft.Exchange.Management.SystemConfigurationTasks.ExchangeCertificate"
    )
    assert [name for name, _ in root.members][:5] == [
        "CertData",
        "SelfSigned",
        "Status",
        "RootCAType",
        "Services",
    ]
    assert (root.get("Services").enum_value, root.get("Status").enum_value) == (27, 1)


@given(st.data())
def test_mutated_nrbf_gives_a_result_or_nrbf_error(data: st.DataObject) -> None:
    """Flipping, cutting or lengthening a real stream never raises anything else."""
    blob = bytearray(_real_nrbf())
    for _ in range(data.draw(st.integers(min_value=1, max_value=8))):
        position = data.draw(st.integers(min_value=0, max_value=len(blob) - 1))
        blob[position] = data.draw(st.integers(min_value=0, max_value=255))
    cut = data.draw(st.integers(min_value=0, max_value=len(blob)))
    with contextlib.suppress(NrbfError):
        read_nrbf(bytes(blob[:cut]))


@given(st.binary(max_size=300))
def test_random_bytes_give_nrbf_error(data: bytes) -> None:
    """Random bytes are read or refused with NrbfError."""
    with contextlib.suppress(NrbfError):
        read_nrbf(data)


def test_nrbf_absurd_lengths_are_refused_quickly() -> None:
    """A string or array claiming gigabytes is refused at once."""
    header = b"\x00" + b"\x00" * 16
    with pytest.raises(NrbfError, match="past the end"):
        read_nrbf(header + b"\x06\x01\x00\x00\x00\xff\xff\xff\xff\x07")
    with pytest.raises(NrbfError, match=r"past the end|array"):
        read_nrbf(header + b"\x0f\x01\x00\x00\x00\xff\xff\xff\x7f\x08")


# -- names ------------------------------------------------------------------------------

rdn_values = st.text(
    alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=20
).filter(lambda value: value == value.strip() and not value.startswith("#"))
attribute_types = st.sampled_from(["CN", "OU", "O", "L", "S", "C", "DC", "E"])


def _quote(value: str) -> str:
    if any(char in value for char in ',+;"\\=<>'):
        return '"' + value.replace('"', '""') + '"'
    return value


@given(st.lists(st.tuples(attribute_types, rdn_values), min_size=1, max_size=6))
def test_distinguished_names_render_and_parse_back(rdns: list[tuple[str, str]]) -> None:
    """A DN written the Windows way parses back to the same attributes."""
    text = ", ".join(f"{kind}={_quote(value)}" for kind, value in rdns)
    name = DistinguishedName.parse(text)
    assert [rdn[0] for rdn in name.rdns] == rdns


@given(
    st.lists(st.tuples(attribute_types, rdn_values), min_size=1, max_size=4),
    st.lists(st.tuples(attribute_types, rdn_values), min_size=1, max_size=4),
)
def test_tls_certificate_names_render_exactly(
    issuer: list[tuple[str, str]], subject: list[tuple[str, str]]
) -> None:
    """<I>issuer<S>subject parses and renders back to the same text."""
    text = (
        "<I>"
        + ", ".join(f"{k}={_quote(v)}" for k, v in issuer)
        + "<S>"
        + ", ".join(f"{k}={_quote(v)}" for k, v in subject)
    )
    if "<S>" in text[3:].split("<S>", 1)[0] or text.count("<S>") != 1:
        return
    name = parse_tls_certificate_name(text)
    assert name.render() == text


def test_tls_certificate_name_that_lost_its_markers() -> None:
    """A value without <I> and <S> raises ParseError; kept as written, it names nothing."""
    with pytest.raises(ParseError, match="marker") as raised:
        parse_tls_certificate_name("CN=Contoso CACN=mail.contoso.com")
    assert raised.value.code == "tls-name-syntax"
    name = TlsCertificateName.as_written("CN=Contoso CACN=mail.contoso.com")
    assert (name.issuer, name.subject) == (None, None)
    assert name.render() == "CN=Contoso CACN=mail.contoso.com"
    assert not name.matches(ExchangeCertificate(thumbprint=None, subject="CN=x", issuer="CN=y"))


def test_tls_certificate_name_matches_like_exchange() -> None:
    """Matching compares issuer and subject case-insensitively, spaces after commas aside."""
    name = parse_tls_certificate_name("<I>CN=Contoso CA, O=Contoso<S>CN=mail.contoso.com")
    assert name.matches(
        ExchangeCertificate(
            thumbprint=None, issuer="cn=contoso ca,O=Contoso", subject="CN=MAIL.contoso.com"
        )
    )
    assert not name.matches(
        ExchangeCertificate(thumbprint=None, issuer="CN=Other CA", subject="CN=mail.contoso.com")
    )


@pytest.mark.parametrize("text", ["", "garbage", "CN=", "=x", 'CN="unclosed'])
def test_bad_names_raise_parse_error(text: str) -> None:
    """Text that is not a DN raises ParseError, not anything else."""
    with contextlib.suppress(ParseError):
        DistinguishedName.parse(text)


@given(st.text(max_size=100))
def test_any_text_as_a_name_never_raises_otherwise(text: str) -> None:
    """Arbitrary text gives a name or ParseError."""
    with contextlib.suppress(ParseError):
        DistinguishedName.parse(text)
    with contextlib.suppress(ParseError):
        parse_tls_certificate_name(text)
    assert TlsCertificateName.as_written(text).raw == text


# -- round trips through the formats -----------------------------------------------------

certificates = st.builds(
    ExchangeCertificate,
    thumbprint=st.from_regex(r"[0-9A-F]{40}", fullmatch=True),
    services=st.integers(min_value=0, max_value=127).map(Services),
    subject=st.sampled_from(
        ["CN=mail.contoso.com", "CN=*.domain.com, OU=IT, O=Contoso", "CN=EX01"]
    ),
    issuer=st.sampled_from(["CN=Contoso CA, O=Contoso", "CN=EX01"]),
    not_after=st.datetimes(
        min_value=dt.datetime(2001, 1, 13), max_value=dt.datetime(2049, 1, 1)
    ).map(lambda value: value.replace(microsecond=0, tzinfo=UTC)),
    status=st.sampled_from(list(CertificateStatus)),
    root_ca_type=st.sampled_from(list(RootCAType)),
    has_private_key=st.booleans(),
)


def _as_list(certificate: ExchangeCertificate) -> str:
    assert certificate.not_after is not None
    return (
        f"Thumbprint    : {certificate.thumbprint}\n"
        f"Services      : {certificate.services}\n"
        f"Subject       : {certificate.subject}\n"
        f"Issuer        : {certificate.issuer}\n"
        f"NotAfter      : {certificate.not_after:%Y-%m-%d %H:%M:%S}\n"
        f"Status        : {certificate.status}\n"
        f"RootCAType    : {certificate.root_ca_type}\n"
        f"HasPrivateKey : {certificate.has_private_key}\n"
    )


def _fields(certificate: ExchangeCertificate) -> tuple[object, ...]:
    return (
        certificate.thumbprint,
        certificate.services,
        certificate.subject,
        certificate.issuer,
        certificate.not_after,
        certificate.status,
        certificate.root_ca_type,
        certificate.has_private_key,
    )


@given(certificates)
def test_certificate_round_trips_through_format_list(certificate: ExchangeCertificate) -> None:
    """A certificate written as Format-List reads back to the same values."""
    [back] = parse_certificates(_as_list(certificate))
    assert _fields(back) == _fields(certificate)


@given(certificates)
def test_certificate_round_trips_through_json(certificate: ExchangeCertificate) -> None:
    """A certificate written as ConvertTo-Json (numbers for enums) reads back the same."""
    assert certificate.not_after is not None
    assert certificate.services is not None
    document = {
        "Thumbprint": certificate.thumbprint,
        "Services": certificate.services.value,
        "Subject": certificate.subject,
        "Issuer": certificate.issuer,
        "NotAfter": f"/Date({int(certificate.not_after.timestamp() * 1000)})/",
        "Status": str(certificate.status),
        "RootCAType": str(certificate.root_ca_type),
        "HasPrivateKey": certificate.has_private_key,
    }
    [back] = parse_certificates(json.dumps([document]))
    assert _fields(back) == _fields(certificate)


@given(certificates)
def test_certificate_round_trips_through_the_default_table(
    certificate: ExchangeCertificate,
) -> None:
    """A certificate in the default table keeps thumbprint, flag-string services and subject."""
    assert certificate.services is not None
    text = (
        "Thumbprint                                Services   Subject\n"
        "----------                                --------   -------\n"
        f"{certificate.thumbprint}  {certificate.services.to_flag_string()}    {certificate.subject}\n"
    )
    [back] = parse_certificates(text)
    assert (back.thumbprint, back.services, back.subject) == (
        certificate.thumbprint,
        certificate.services,
        certificate.subject,
    )


def test_select_object_table_of_one_column() -> None:
    """`| Select-Object Services` gives a one-column table of names."""
    [certificate] = parse_certificates("\nServices\n--------\nIMAP, POP, IIS, SMTP\n")
    assert certificate.services == Services(27)
    assert certificate.thumbprint is None


def test_html_source_of_a_blog_is_refused_with_a_position() -> None:
    """The WordPress sample is HTML source, not output: ParseError at its first line."""
    path = (
        DATA
        / "certificates/wp-blog_ex2010_get-exchangecertificate_table_6flag-services_html-syntax-highlighted_before.html.txt"
    )
    with pytest.raises(ParseError) as caught:
        read_certificates(path)
    assert (caught.value.line, caught.value.column) == (1, 1)


def test_certificate_date_order_is_inferred_and_reported() -> None:
    """A NotAfter with a day above 12 settles the order, as for queues, and says so."""
    text = (
        "Thumbprint : B8FFF722AAF9E4CFA055581061F6020C70BAC8AF\n"
        "NotBefore  : 12/03/2025 19:50:43\n"
        "NotAfter   : 25/03/2027 08:00:00\n"
    )
    result = parse_certificates(text, source="certs.txt")
    assert result[0].not_before == dt.datetime(2025, 3, 12, 19, 50, 43, tzinfo=UTC)
    assert [(p.code, p.severity.value, p.message) for p in result.problems] == [
        (
            "date-order-inferred",
            "info",
            "dates read as DMY: the only day order that fits every date in the file",
        )
    ]
