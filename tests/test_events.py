import datetime as dt
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchange_tls.errors import ParseError
from exchange_tls.events import Level, alert_name, meaning_of, parse_events, read_events
from exchange_tls.events.reader import EVTX_MAGIC

DATA = Path(__file__).parent / "data"
EVENTS = DATA / "events"
CORPUS = DATA / "corpus" / "events"
UTC = dt.timezone.utc


def test_event_viewer_text_from_a_published_case_reads_event_12014() -> None:
    """The expta.com blog's copied 12014 event reads, its description kept without a label."""
    [event] = read_events(
        EVENTS / "expta-blog_ex2010_event-12014_viewer-copy_no-description-label.txt"
    )
    assert (event.log, event.provider, event.event_id, event.level) == (
        "Application",
        "MSExchangeTransport",
        12014,
        Level.ERROR,
    )
    assert event.time == dt.datetime(2010, 9, 28, 9, 35, 58, tzinfo=UTC)
    assert event.machine == "mailgate"
    assert event.message is not None
    assert event.message.startswith("Microsoft Exchange could not find a certificate")
    assert event.meaning is not None
    assert event.meaning.name == "CannotLoadSTARTTLSCertificateFromStore"
    assert event.source is not None
    assert event.source.line == 1


@pytest.mark.parametrize(
    ("name", "provider", "event_id", "record_id", "when"),
    [
        (
            "css-exchange_healthchecker_e19_getwineventoldestapplication_clixml.xml",
            "MSExchangeTransportSubmission",
            16028,
            142609,
            dt.datetime(2024, 6, 18, 9, 42, 6, 8110, tzinfo=UTC),
        ),
        (
            "css-exchange_healthchecker_e16_getwineventoldestsystem_clixml.xml",
            "Microsoft-Windows-Eventlog",
            104,
            4762,
            dt.datetime(2021, 10, 6, 22, 44, 43, 98612, tzinfo=UTC),
        ),
    ],
)
def test_real_get_winevent_clixml_reads(
    name: str, provider: str, event_id: int, record_id: int, when: dt.datetime
) -> None:
    """CSS-Exchange's Export-Clixml of Get-WinEvent records reads with id, provider and time."""
    result = read_events(CORPUS / name)
    assert result.format == "clixml"
    assert result.problems == ()
    [event] = result
    assert (event.provider, event.event_id, event.record_id, event.time) == (
        provider,
        event_id,
        record_id,
        when,
    )
    assert event.level is Level.INFORMATION
    assert event.meaning is None  # read, but an id this library gives no meaning to


def test_get_winevent_format_list_reads_wrapped_messages_and_alerts() -> None:
    """Format-List of Get-WinEvent: wrapped Message lines join; 36887 gives its alert."""
    result = read_events(EVENTS / "get-winevent-schannel-fl.txt", date_order="MDY")
    first, second = result
    assert (first.event_id, second.event_id) == (36871, 36887)
    assert first.message == (
        "A fatal error occurred while creating a TLS client credential. The internal error "
        "state is 10013."
    )
    assert second.alert == 70
    assert alert_name(70) == "protocol_version"
    assert first.time == dt.datetime(2024, 6, 1, 10, 2, 11, tzinfo=UTC)


def test_an_ambiguous_local_date_is_reported_not_guessed() -> None:
    """Without a date order, 6/1/2024 is reported as ambiguous and the time is None."""
    result = read_events(EVENTS / "get-winevent-schannel-fl.txt")
    assert [event.time for event in result] == [None, None]
    assert {problem.code for problem in result.problems} == {"ambiguous-date"}


def test_get_eventlog_csv_takes_the_id_from_instance_id_qualifiers() -> None:
    """Get-EventLog | Export-Csv: EventID and InstanceId's low 16 bits agree; 12023 is known."""
    result = read_events(EVENTS / "get-eventlog-application-transport.csv", date_order="MDY")
    known, internal = result
    assert (known.provider, known.event_id, known.level) == (
        "MSExchangeFrontEndTransport",
        12014,
        Level.ERROR,
    )
    assert known.meaning is not None
    assert internal.event_id == 12023
    assert internal.meaning is not None
    assert internal.meaning.name == "CannotLoadInternalTransportCertificateFallbackServerFQDN"
    assert known.data is None  # "System.String[]" is a type name, not data


def test_get_winevent_json_reads_levels_dates_and_properties() -> None:
    """ConvertTo-Json of Get-WinEvent: /Date()/ times, Level numbers, Properties as data."""
    [event] = read_events(EVENTS / "get-winevent-schannel.json")
    assert event.time == dt.datetime(2024, 6, 1, 10, 2, 11, tzinfo=UTC)
    assert event.level is Level.ERROR
    assert event.data == ((None, "client"), (None, "10013"))


def test_wevtutil_xml_without_a_root_reads_every_event() -> None:
    """The output of wevtutil qe /f:xml output (events with no root element) reads each event and its data."""
    result = read_events(EVENTS / "wevtutil-qe-f-xml.xml")
    assert result.format == "xml"
    transport, schannel = result
    assert transport.event_id == 12014
    assert transport.data == (
        (None, "mail.contoso.com"),
        (None, "Default Frontend EX01"),
        (None, "mail.contoso.com"),
    )
    assert schannel.datum("AlertDesc") == "70"
    assert schannel.alert == 70
    assert schannel.time == dt.datetime(2024, 6, 1, 10, 5, 40, 123456, tzinfo=UTC)


def test_meanings_are_given_only_to_known_providers() -> None:
    """An id means something only from its provider: 12014 from Schannel means nothing."""
    assert meaning_of("MSExchangeFrontEndTransport", 12014) is not None
    assert meaning_of("Schannel", 12014) is None
    assert meaning_of(None, 36871) is None


def test_broken_xml_is_a_problem_with_its_position() -> None:
    """Malformed event XML becomes a problem at its line, and raises in raising mode."""
    text = "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'>\n<System>\n"
    result = parse_events(text, source="bad.xml")
    assert [problem.code for problem in result.problems] == ["xml-error"]
    with pytest.raises(ParseError):
        parse_events(text, source="bad.xml", errors="raise")


def test_entity_declarations_are_refused() -> None:
    """A DOCTYPE with entities (billion laughs) is refused, not expanded."""
    text = (
        "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'>"
        '<!DOCTYPE x [<!ENTITY a "aaaa">]><System/></Event>'
    )
    result = parse_events(text, format="xml")
    assert list(result) == []
    assert result.problems


def test_evtx_without_the_extra_or_broken_is_a_clean_error() -> None:
    """An .evtx file that cannot be read is a ParseError or a problem, nothing else."""
    data = EVTX_MAGIC + b"\x00" * 200
    result = read_events(io.BytesIO(data))
    assert result.format == "evtx"
    assert list(result) == []
    assert result.problems


text_lines = st.lists(
    st.one_of(
        st.text(max_size=40),
        st.sampled_from(
            [
                "Log Name: Application",
                "Event ID: 12014",
                "Id : 36871",
                "ProviderName : Schannel",
                "TimeCreated : 6/1/2024 10:00:00 AM",
                "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'>",
                "<System><EventID>x</EventID></System></Event>",
                '"EventID","Source"',
                "Description:",
                "Event Xml:",
                "PS C:\\> Get-WinEvent | fl",
                ">> -MaxEvents 1",
            ]
        ),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(text_lines)
def test_hostile_event_text_raises_nothing_but_parse_error(lines: list[str]) -> None:
    """Whatever the text, parse_events returns events and problems or raises ParseError."""
    try:
        result = parse_events("\n".join(lines))
    except ParseError:
        return
    for event in result:
        assert event.event_id is None or 0 <= event.event_id <= 0xFFFF


def test_a_real_evtx_file_reads_through_the_extra() -> None:
    """The evtx project's MSExchange Management sample reads: provider, id, time, data."""
    pytest.importorskip("evtx")
    result = read_events(CORPUS / "omerbenamram-evtx_samples_MSExchange_Management_wec.evtx")
    assert result.format == "evtx"
    assert result.problems == ()
    [event] = result
    assert (event.provider, event.event_id, event.log, event.record_id) == (
        "MSExchange CmdletLogs",
        1,
        "MSExchange Management",
        3229,
    )
    assert event.time == dt.datetime(2021, 11, 19, 16, 52, 33, 833733, tzinfo=UTC)
    assert event.data is not None
    assert event.data[0] == (None, "Set-Mailbox")
    assert event.source is not None
    assert event.source.source.endswith(".evtx#1")


def test_user_data_fields_become_named_data() -> None:
    """Schannel's UserData/EventXML fields (36880) become named data of the event."""
    [event] = parse_events(
        "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'>"
        "<System><Provider Name='Schannel'/><EventID>36880</EventID><Level>4</Level>"
        "<TimeCreated SystemTime='2024-06-01T10:00:00.0000000Z'/><Channel>System</Channel>"
        "</System><UserData><EventXML xmlns='LSA_NS'><Type>server</Type>"
        "<Protocol>TLS 1.2</Protocol><CipherSuite>0xc030</CipherSuite></EventXML></UserData></Event>"
    )
    assert event.data == (("Type", "server"), ("Protocol", "TLS 1.2"), ("CipherSuite", "0xc030"))
    assert event.datum("protocol") == "TLS 1.2"
    assert event.meaning is None


def test_a_pasted_get_winevent_list_from_microsoft_qa_reads() -> None:
    """Microsoft Q&A 379008's Get-WinEvent | fl (blank lines, trailing spaces, d/M/y) reads."""
    result = read_events(
        EVENTS / "msqa-379008_get-winevent-fl_schannel-36884_blanklines-trailing-spaces.txt"
    )
    [event] = result
    assert (event.provider, event.event_id) == ("Schannel", 36884)
    assert event.time == dt.datetime(2021, 4, 30, 10, 43, 17, tzinfo=UTC)
    assert event.message is not None
    assert event.message.endswith("The attached data contains the server certificate.")
    assert "connecting to the correct server." in event.message
    assert event.meaning is None  # 36884 is read, without a meaning here


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 69631), st.integers(0, 255)), min_size=1, max_size=40))
def test_a_damaged_evtx_file_never_loses_events_silently(changes: list[tuple[int, int]]) -> None:
    """Bytes of the real .evtx changed at random: events, or a problem saying why not."""
    pytest.importorskip("evtx")
    data = bytearray(
        (CORPUS / "omerbenamram-evtx_samples_MSExchange_Management_wec.evtx").read_bytes()
    )
    for position, value in changes:
        data[position] = value
    try:
        result = read_events(io.BytesIO(bytes(data)))
    except ParseError:
        return
    assert list(result) or result.problems


JST = dt.timezone(dt.timedelta(hours=9))


@pytest.mark.parametrize(
    "name",
    [
        "msen-blog_get-eventlog-system_export-csv-utf8_ja-local-dates.csv",
        "msen-blog_get-eventlog-system_export-csv-ascii_ja-messages-as-question-marks.csv",
    ],
)
def test_a_published_get_eventlog_export_csv_reads_every_row(name: str) -> None:
    """A blog's Get-EventLog System | Export-Csv (yyyy/MM/dd local times) reads all seven rows."""
    result = read_events(EVENTS / name, tz=JST)
    assert result.format == "csv"
    assert [event.event_id for event in result] == [1500, 98, 1501, 7040, 1500, 1501, 1500]
    assert [event.record_id for event in result] == list(range(3365, 3358, -1))
    first, _, _, scm, *_ = result
    assert (first.provider, first.level, first.machine) == (
        "Microsoft-Windows-GroupPolicy",
        Level.INFORMATION,
        "Example-PC",
    )
    # Local 15:35:24 in Japan; the year-first order is the only one every date fits.
    assert first.time == dt.datetime(2017, 11, 18, 6, 35, 24, tzinfo=UTC)
    assert {problem.code for problem in result.problems} == {"date-order-inferred"}
    # 7040's InstanceId is 1073748864: the qualifiers sit above the low 16 bits.
    assert (scm.provider, scm.event_id) == ("Service Control Manager", 7040)
    assert scm.message is not None
    assert scm.message.startswith("Windows Modules Installer ")
    assert scm.data is None  # "System.String[]" names a type, it holds no data
    assert scm.log is None  # Get-EventLog rows carry no log name


def test_the_ascii_export_keeps_its_question_marks() -> None:
    """Export-Csv's default ASCII turned the Japanese text into '?': kept as published."""
    [first, *_] = read_events(
        EVENTS / "msen-blog_get-eventlog-system_export-csv-ascii_ja-messages-as-question-marks.csv"
    )
    assert first.message == ("???????????? ???????????????????????? ??????????????????????????????")


def test_a_published_convertto_json_with_its_prompt_reads() -> None:
    """Windows PowerShell 5.1 ConvertTo-Json pasted after its prompt: the event, and why data is lost."""
    result = read_events(
        EVENTS
        / "trilogy-bootcamp_get-winevent-system_convertto-json-ps51_prompt-first-object-only.txt"
    )
    assert result.format == "json"
    [event] = result
    assert (event.log, event.provider, event.event_id, event.record_id) == (
        "System",
        "Microsoft-Windows-Hyper-V-Netvsc",
        13,
        2555,
    )
    assert event.level is Level.INFORMATION
    assert event.time == dt.datetime(2020, 7, 21, 23, 34, 18, 918000, tzinfo=UTC)
    assert event.machine == "DESKTOP-U3FCUKI"
    assert event.message == "Miniport NIC 'Microsoft Hyper-V Network Adapter #3' disconnected"
    # The default depth wrote each property as its type name: the values are unknown.
    assert event.data is None
    assert [(problem.code, problem.line) for problem in result.problems] == [
        ("prompt-line", 1),
        ("event-data-cut", 2),
    ]


def test_a_published_powershell_7_json_reads_offset_times_and_values() -> None:
    """PowerShell 7 ConvertTo-Json (ISO time with offset, Properties with Value) reads."""
    result = read_events(
        EVENTS / "script-comment_get-winevent-winrm_convertto-json-ps7_prompt-reflowed.txt"
    )
    [event] = result
    assert (event.provider, event.event_id, event.level) == (
        "Microsoft-Windows-WinRM",
        142,
        Level.ERROR,
    )
    assert event.time == dt.datetime(2022, 5, 20, 7, 1, 30, 283436, tzinfo=UTC)
    assert event.data == ((None, "Enumeration"), (None, "2150858770"))
    assert [problem.code for problem in result.problems] == ["prompt-line"]


def test_a_published_event_viewer_xml_export_reads_the_rendered_event() -> None:
    """Event Viewer's "Save as XML" (<Events> root, French RenderingInfo) reads its event."""
    result = read_events(EVENTS / "fr-notes_event-viewer-save-as-xml_dns-4013_rendered-fr.xml")
    assert result.format == "xml"
    assert result.problems == ()
    [event] = result
    assert (event.log, event.provider, event.event_id, event.record_id) == (
        "DNS Server",
        "Microsoft-Windows-DNS-Server-Service",
        4013,
        183,
    )
    # "Avertissement" is not a level name this library knows; <Level>3</Level> is.
    assert event.level is Level.WARNING
    assert event.time == dt.datetime(2025, 2, 19, 13, 25, 2, 656043, tzinfo=UTC)
    assert event.machine == "SRVWIN-EKO.Ekoloclast.lan"
    assert event.message is not None
    assert event.message.startswith("Le serveur DNS attend que les services de domaine")
    assert event.data is None


def test_an_event_viewer_copy_takes_time_and_data_from_its_event_xml() -> None:
    """A published Schannel 36870 copy: the description from the text, UTC time and data from the XML."""
    result = read_events(
        EVENTS / "ms-docs_service-fabric_event-viewer-copy_schannel-36870_with-event-xml.txt"
    )
    assert result.format == "viewer"
    assert result.problems == ()
    [event] = result
    assert (event.log, event.provider, event.event_id, event.level) == (
        "System",
        "Schannel",
        36870,
        Level.ERROR,
    )
    assert event.time == dt.datetime(2022, 10, 16, 20, 27, 36, 222854, tzinfo=UTC)
    assert event.record_id == 2213
    assert event.datum("ErrorCode") == "0x8009030d"
    assert event.message == (
        "A fatal error occurred when attempting to access the TLS server credential private "
        "key. The error code returned from the cryptographic module is 0x8009030D. The "
        "internal error state is 10001."
    )


def test_prompts_and_continuations_are_reported_not_read() -> None:
    """A pasted prompt, its >> lines and the Exchange shell's [PS] prompt are problems, not values."""
    text = (
        "PS C:\\> Get-WinEvent -FilterHashtable @{LogName='System'\n"
        ">> ProviderName='Schannel'} | Format-List\n"
        "\n"
        "TimeCreated  : 2024-06-01 10:02:11\n"
        "ProviderName : Schannel\n"
        "Id           : 36871\n"
        "\n"
        "[PS] C:\\Windows\\system32>Get-WinEvent -MaxEvents 1 | fl\n"
        "\n"
        "TimeCreated  : 2024-06-01 10:05:40\n"
        "ProviderName : Schannel\n"
        "Id           : 36887\n"
    )
    result = parse_events(text)
    assert [event.event_id for event in result] == [36871, 36887]
    prompts = [p.line for p in result.problems if p.code == "prompt-line"]
    assert prompts == [1, 2, 8]


def test_format_list_type_names_are_not_event_data() -> None:
    """Format-List's "{System.Diagnostics.Eventing.Reader.EventProperty...}" is no data."""
    [event] = parse_events(
        "ProviderName : Schannel\n"
        "Id           : 36871\n"
        "Properties   : {System.Diagnostics.Eventing.Reader.EventProperty, "
        "System.Diagnostics.Eventing.Reader.EventProperty...}\n"
    )
    assert event.event_id == 36871
    assert event.data is None


def test_wevtutil_output_pasted_after_its_prompt_reads_as_xml() -> None:
    """A prompt line before wevtutil's XML is skipped; the XML is still recognised."""
    result = parse_events(
        "PS C:\\> wevtutil qe System /c:1 /rd:true /f:xml\n"
        "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
        "<Provider Name='Schannel'/><EventID>36871</EventID></System></Event>\n"
    )
    assert result.format == "xml"
    assert [event.event_id for event in result] == [36871]
    assert [(p.code, p.line) for p in result.problems] == [("prompt-line", 1)]


@pytest.mark.parametrize("event_id", [12013, 12023, 12024, 4999])
def test_the_internal_transport_certificate_text_is_known_under_any_id(event_id: int) -> None:
    """Public reports quote 12013's text under neighbouring ids: the text is read too."""
    from exchange_tls.events.models import INTERNAL_TRANSPORT_EVENTS, EventRecord

    event = EventRecord(
        provider="MSExchangeTransport",
        event_id=event_id,
        message="Microsoft Exchange could not load the certificate with thumbprint of "
        "0123456789ABCDEF0123456789ABCDEF01234567 from the personal store on the local "
        "computer. This certificate was configured for authentication with other Exchange "
        "servers. Mail flow to other Exchange servers could be affected by this error.",
    )
    assert event.meaning is not None
    assert event.meaning.event_id in INTERNAL_TRANSPORT_EVENTS


def test_a_text_without_the_phrase_keeps_an_unknown_id_unknown() -> None:
    """A near miss: another transport message under an unknown id means nothing."""
    from exchange_tls.events.models import EventRecord

    event = EventRecord(provider="MSExchangeTransport", event_id=4999, message="Queue ok.")
    assert event.meaning is None
