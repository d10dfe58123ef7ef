"""The columnar fast path gives the careful path's summary, or falls back to it."""

import csv
import datetime as dt
import json
from pathlib import Path

import hypothesis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange_tls import diagnose, load_evidence
from exchange_tls.cli import main
from exchange_tls.pipeline import map_logs, summarise_log
from exchange_tls.protocol_log import columnar, columnar_counts
from exchange_tls.protocol_log.columnar import columnar_available, summarise_clean_log
from exchange_tls.protocol_log.summary import SessionSummary, SummaryBuilder
from tests.builders import WRITINGS, write_field

ROOT = Path(__file__).parent.parent
EXAMPLES = sorted(path for path in (ROOT / "examples").iterdir() if (path / "EXPECTED.md").exists())
PROTOCOL_LOGS = sorted((ROOT / "tests" / "data" / "protocol-logs").iterdir())

_START = dt.datetime(2024, 6, 1, 10, 0, tzinfo=dt.timezone.utc)
_THUMBPRINT = "054FB2800CE2E07A56DE07920D3C9847D3058CE1"
_SUCCESS = (
    "TLS protocol SP_PROT_TLS1_2_CLIENT negotiation succeeded using bulk encryption algorithm "
    "CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA_384 with strength 0 "
    "bits and key exchange algorithm CALG_ECDHE with strength 384 bits"
)
_SUCCESS_13 = _SUCCESS.replace("TLS1_2", "TLS1_3")
_CONNECTORS = ("Outbound to Office 365", "Relais für Ämter", 'A "quoted", name', "组织内")
_KINDS = (
    "plain",
    "plain",
    "plain",
    "plain13",
    "masked",
    "tls-failed",
    "connect-failed",
    "auth-failed",
    "error-reply",
    "no-tls",
    "two-blocks",
    "bad-success",
    "no-label",
    "no-start",
    "reply-seq0",
    "no-thumbprint",
    "blank-thumbprint",
    "lower-thumbprint",
)


def _quote(field: str) -> str:
    if "," in field or '"' in field:
        return '"' + field.replace('"', '""') + '"'
    return field


def _rows(kind: str, receive: bool) -> list[tuple[str, str, str]]:
    """Return the (event, data, context) of one session of ``kind``."""
    out, back = ("<", ">") if receive else (">", "<")
    thumbprint = {
        "masked": "xxxx",
        "no-thumbprint": "",
        "blank-thumbprint": " ",
        "lower-thumbprint": _THUMBPRINT.lower(),
    }.get(kind, _THUMBPRINT)
    block = [
        ("*", "", "Sending certificate"),
        ("*", "CN=mail.contoso.com, O=Contoso, C=CH", "Certificate subject"),
        ("*", "CN=Contoso CA, O=Contoso", "Certificate issuer name"),
        ("*", "0A1B", "Certificate serial number"),
        ("*", thumbprint, "Certificate thumbprint"),
        ("*", "mail.contoso.com;contoso.com", "Certificate alternate names"),
    ]
    rows = [
        ("+", "", ""),
        (back, "220 mx.example.net Microsoft ESMTP MAIL Service ready", ""),
        (out, "EHLO mail.contoso.com", ""),
        (back, "250-mx.example.net Hello [203.0.113.7]", ""),
    ]
    if kind == "connect-failed":
        return [
            ("*", "", "attempting to connect"),
            ("*", "", "Failed to connect. Winsock error code: 10060, Win32 error code: 10060"),
            ("-", "", "Local"),
        ]
    if kind == "no-tls":
        return [*rows, (back, "250 CHUNKING", ""), (out, "QUIT", ""), ("-", "", "Local")]
    rows += [(back, "250 STARTTLS", ""), (out, "STARTTLS", ""), (back, "220 2.0.0 ready", "")]
    if kind == "no-label":
        block = block[1:]
    rows += block
    if kind == "two-blocks":
        rows += block
    if kind == "tls-failed":
        return [
            *rows,
            ("*", "", "TLS negotiation failed with error UnknownCredentials"),
            ("-", "", "Local"),
        ]
    success = {"plain13": _SUCCESS_13, "bad-success": "TLS protocol SP_PROT_TLS1_2 oops"}
    rows.append(("*", "", success.get(kind, _SUCCESS)))
    if kind == "auth-failed":
        rows.append(("*", "", "Outbound Authentication failed with LogonDenied"))
    if kind == "error-reply":
        rows.append((back, "530 5.7.1 Client was not authenticated, try again", ""))
    rows += [(out, "QUIT", ""), (back, "221 2.0.0 Bye", ""), ("-", "", "Local")]
    if kind == "no-start":
        rows[0] = ("*", "", "a session whose connect row is missing")
    return rows


_REMOTES = ("203.0.113.9:4711", "198.51.100.7:25", "", "10.**.**.31:25", "[2001:db8::1]:25")


# Field texts full of what CSV quotes: quotes, commas, doubled quotes, line ends.
_TEXTS = st.text(st.sampled_from('ab ,"\u00e9\n\r'), max_size=8)
_CLEAN_TEXTS = st.text(st.sampled_from('ab ,"\u00e9'), max_size=8)


# How the fields of a log are quoted: as Exchange does, as any CSV writer may, any way.
_QUOTING = {
    "exchange": (("exchange",), _CLEAN_TEXTS, (6, 7)),
    "csv": (("exchange", "quoted"), _CLEAN_TEXTS, (0, 6, 7)),
    "any": (WRITINGS, _TEXTS, (0, 6, 7)),
}


@st.composite
def _sessions(
    draw: st.DrawFn, kinds: tuple[str, ...] = _KINDS, quoting: str = "exchange"
) -> list[tuple[dt.datetime, str]]:
    """Draw one session: its lines, each with its time.

    One row in eight has its data or context (or, unless quoted as Exchange does, its
    connector) replaced by text with quotes and commas, written as ``quoting`` says.
    """
    kind = draw(st.sampled_from(kinds))
    remote = draw(st.sampled_from(_REMOTES))
    receive = draw(st.booleans())
    connector = draw(st.sampled_from(_CONNECTORS))
    if receive:
        connector = "EX01\\" + connector
    session_id = f"08DC42C8FF2{draw(st.integers(0, 5)):05X}"
    start = _START + dt.timedelta(minutes=draw(st.integers(0, 150)))
    rows = _rows(kind, receive)
    numbers = list(range(len(rows)))
    if draw(st.booleans()) and len(rows) > 3:
        at = draw(st.integers(1, len(rows) - 2))
        numbers[at], numbers[at + 1] = numbers[at + 1], numbers[at]
    if kind == "reply-seq0":
        numbers[1] = 0
    lines = []
    moment = start
    for number, (event, data, context) in zip(numbers, rows, strict=True):
        moment += dt.timedelta(milliseconds=draw(st.integers(0, 900)))
        fields = (
            connector,
            session_id,
            str(number),
            "10.0.0.1:25",
            remote,
            event,
            data,
            context,
        )
        written: list[str | None] = [_quote(field) for field in fields]
        if draw(st.integers(0, 7)) == 0:
            writings, texts, places = _QUOTING[quoting]
            writing = draw(st.sampled_from(writings))
            written[draw(st.sampled_from(places))] = write_field(draw(texts), writing)
        lines.append((moment, ",".join(field for field in written if field is not None)))
    return lines


def _stamp(moment: dt.datetime) -> str:
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


_HEADER = (
    "#Software: Microsoft Exchange Server\n"
    "#Version: 15.0.0.0\n"
    "#Log-type: SMTP {kind} Protocol Log\n"
    "#Date: 2024-06-01T10:00:00.000Z\n"
    "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,"
    "remote-endpoint,event,data,context\n"
)
_MANGLES = (
    "wrong-field-count",
    "bad-timestamp",
    "other-timestamp",
    "offset-timestamp",
    "bad-event",
    "spaced-event",
    "bad-sequence",
    "spaced-sequence",
    "stray-quote",
    "unclosed-quote",
    "junk-after-quote",
    "invalid-utf8",
    "surrogate",
    "nul",
    "empty-line",
    "blank-line",
    "lone-cr",
    "directive-inside",
    "csv-header",
    "long-field",
    "year-zero",
)


def _mangle(lines: list[str], mangle: str, at: int) -> list[str]:
    """Spoil line ``at`` (of data lines) in the way ``mangle`` names."""
    line = lines[at]
    stamp, rest = line[:24], line[24:]
    fields = rest.split(",")
    spoilt = {
        "wrong-field-count": line + ",extra",
        "bad-timestamp": "2024-02-30T10:00:00.000Z" + rest,
        "other-timestamp": stamp[:19] + "Z" + rest,
        "offset-timestamp": stamp[:23] + "+00:00" + rest,
        "bad-event": line.replace(",+,", ",?,").replace(",*,", ",?,").replace(",-,", ",?,"),
        "spaced-event": line.replace(",*,", ", *,").replace(",-,", ",- ,"),
        "bad-sequence": stamp + ",".join([*fields[:3], "-1", *fields[4:]]),
        "spaced-sequence": stamp + ",".join([*fields[:3], " 7", *fields[4:]]),
        "stray-quote": line + 'x"y',
        "unclosed-quote": line + ',"open',
        "junk-after-quote": line.replace('",', '"junk,', 1) if '",' in line else line + '"a"b',
        "invalid-utf8": line + "\udcff",
        "surrogate": line + "\udced\udca0\udc80",
        "nul": line + "\x00",
        "empty-line": line + "\n",
        "blank-line": line + "\n   ",
        "lone-cr": line.replace(",", ",\r", 1),
        "directive-inside": line + "\n#Software: Microsoft Exchange Server",
        "csv-header": "date-time,connector-id,session-id,sequence-number,local-endpoint,"
        "remote-endpoint,event,data,context\n" + line,
        "long-field": line + "x" * 140_000,
        "year-zero": "0000" + line[4:],
    }[mangle]
    return [*lines[:at], spoilt, *lines[at + 1 :]]


_FAILING = ("tls-failed", "connect-failed", "auth-failed", "error-reply", "no-tls", "plain")


@st.composite
def _logs(draw: st.DrawFn, *, clean: bool = False) -> tuple[str, bytes]:
    """Draw a log file: its name and its bytes, possibly cut and spoilt.

    Either a few sessions of every kind, or many of a few kinds, so that sessions of
    one signature repeat (the fast path counts the middle ones column-wise). Fields
    with quotes and commas are quoted as Exchange does, or (unless ``clean``) as any CSV
    writer may, or any way at all (``_QUOTING``).
    """
    receive = draw(st.booleans())
    quoting = "exchange" if clean else draw(st.sampled_from(list(_QUOTING)))
    if draw(st.booleans()):
        sessions = draw(st.lists(_sessions(quoting=quoting), min_size=1, max_size=8))
    else:
        kinds = tuple(draw(st.lists(st.sampled_from(_FAILING), min_size=1, max_size=3)))
        sessions = draw(st.lists(_sessions(kinds, quoting), min_size=3, max_size=25))
    lines = sorted((line for session in sessions for line in session), key=lambda item: item[0])
    text = [_stamp(moment) + "," + line for moment, line in lines]
    if not clean:
        cut_head = draw(st.integers(0, 3))
        cut_tail = draw(st.integers(0, 3))
        text = text[cut_head : len(text) - cut_tail] or text[:1]
        for mangle in draw(st.lists(st.sampled_from(_MANGLES), max_size=2)):
            text = _mangle(text, mangle, draw(st.integers(0, len(text) - 1)))
    header = draw(st.booleans()) or clean
    crlf = draw(st.booleans())
    body = (_HEADER.format(kind="Receive" if receive else "Send") if header else "") + "\n".join(
        text
    )
    if draw(st.booleans()):
        body += "\n"
    if crlf:
        body = body.replace("\n", "\r\n")
    data = ("\ufeff" if draw(st.booleans()) else "") + body
    name = f"{'RECV' if receive else 'SEND'}2024060110-1.LOG"
    return name, data.encode("utf-8", "surrogateescape")


def _careful(path: Path) -> tuple[SessionSummary, tuple[object, ...]]:
    log = summarise_log(path, engine="careful")
    return log.builder.freeze(), log.problems


def _same(path: Path, block: int = columnar.BLOCK_BYTES) -> SummaryBuilder | None:
    """Assert the fast path agrees with the careful one on ``path``; return its builder.

    ``block`` is the size of the blocks the fast path reads: small ones cut sessions.
    """
    summary, problems = _careful(path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(columnar, "BLOCK_BYTES", block)
        builder = summarise_clean_log(path)
    if builder is not None:
        assert problems == ()
        assert builder.freeze() == summary
    automatic = summarise_log(path, engine="columnar")
    assert automatic.builder.freeze() == summary
    assert automatic.problems == problems
    return builder


_SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


_BLOCKS = st.sampled_from([columnar.BLOCK_BYTES, 1500, 4000])


@_SETTINGS
@given(log=_logs(), block=_BLOCKS)
def test_fast_and_careful_paths_agree(log: tuple[str, bytes], block: int, tmp_path: Path) -> None:
    """On generated, cut and spoilt logs the fast path gives the careful summary or falls back."""
    name, data = log
    path = tmp_path / name
    path.write_bytes(data)
    builder = _same(path, block)
    quotes = ", quotes" if b'"' in data else ""
    hypothesis.event(("fell back" if builder is None else "fast path") + quotes)


@_SETTINGS
@given(log=_logs(clean=True), block=_BLOCKS)
def test_clean_logs_take_the_fast_path(log: tuple[str, bytes], block: int, tmp_path: Path) -> None:
    """A clean log (header, standard fields, sessions within the hour) is not refused.

    In blocks of any size, sessions cut by a block's end included.
    """
    name, data = log
    path = tmp_path / name
    path.write_bytes(data)
    assert _same(path, block) is not None


@_SETTINGS
@given(first=_logs(clean=True), cut=st.integers(0, 40))
def test_sessions_spanning_files_merge_alike(
    first: tuple[str, bytes], cut: int, tmp_path: Path
) -> None:
    """A log cut in two files merges to the careful summary, sessions across the cut included."""
    name, data = first
    lines = data.split(b"\n")
    header = [line for line in lines if line.lstrip(b"\xef\xbb\xbf").startswith(b"#")]
    rows = lines[len(header) :]
    cut = min(cut, len(rows))
    paths = []
    for index, part in enumerate((rows[:cut], rows[cut:])):
        path = tmp_path / name.replace("-1.LOG", f"-{index + 1}.LOG")
        path.write_bytes(b"\n".join([*header, *part]))
        paths.append(path)
    careful = SummaryBuilder()
    fast = SummaryBuilder()
    for path in paths:
        careful.merge(summarise_log(path, engine="careful").builder)
        fast.merge(summarise_log(path, engine="columnar").builder)
    assert fast.freeze() == careful.freeze()


def _clean_lines() -> list[str]:
    lines = []
    for offset, kind in enumerate(("plain", "tls-failed")):
        moment = _START + dt.timedelta(seconds=offset)
        for number, (event, data, context) in enumerate(_rows(kind, receive=False)):
            fields = (f"Outbound{offset}", "08DC42C8FF236A1F", str(number), "10.0.0.1:25")
            fields += ("203.0.113.9:25", event, data, context)
            moment += dt.timedelta(milliseconds=7)
            lines.append(_stamp(moment) + "," + ",".join(_quote(field) for field in fields))
    return lines


def _sessions_log(tmp_path: Path, kinds: tuple[str, ...]) -> Path:
    """Write a send log of twelve sessions, of ``kinds`` in turn, to a few remote hosts."""
    lines = []
    for offset in range(12):
        moment = _START + dt.timedelta(seconds=offset)
        kind = kinds[offset % len(kinds)]
        for number, (event, data, context) in enumerate(_rows(kind, receive=False)):
            remote = _REMOTES[offset % len(_REMOTES)]
            fields = ("Outbound", f"08DC42C8FF2{offset:05X}", str(number), "10.0.0.1:25")
            fields += (remote, event, data, context)
            moment += dt.timedelta(milliseconds=7)
            lines.append(_stamp(moment) + "," + ",".join(_quote(field) for field in fields))
    path = tmp_path / "SEND2024060110-1.LOG"
    path.write_bytes((_HEADER.format(kind="Send") + "\n".join(lines) + "\n").encode())
    return path


def test_repeated_failures_are_counted_column_wise(tmp_path: Path) -> None:
    """Failures of one kind beyond the first and last are counted without their rows, alike."""
    path = _sessions_log(tmp_path, ("tls-failed", "connect-failed"))
    counted: list[int] = []
    count_unusual = SummaryBuilder.count_unusual

    def spy(builder: SummaryBuilder, *arguments: object) -> None:
        counted.append(len(list(arguments[3])))  # type: ignore[call-overload]
        count_unusual(builder, *arguments)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(SummaryBuilder, "count_unusual", spy)
        builder = _same(path)
    assert builder is not None
    assert sum(counted) >= 4


@pytest.mark.parametrize("mangle", _MANGLES)
def test_anything_unusual_falls_back(mangle: str, tmp_path: Path) -> None:
    """Each kind of spoilt line makes the fast path refuse the file, and the careful path reads it."""
    clean = _clean_lines()
    lines = next(
        spoilt for at in range(len(clean)) if (spoilt := _mangle(clean, mangle, at)) != clean
    )
    path = tmp_path / "SEND2024060110-1.LOG"
    body = _HEADER.format(kind="Send") + "\n".join(lines) + "\n"
    path.write_bytes(body.replace("\n", "\r\n").encode("utf-8", "surrogateescape"))
    assert summarise_clean_log(path) is None
    _same(path)
    clean_path = tmp_path / "SEND2024060111-1.LOG"
    body = _HEADER.format(kind="Send") + "\n".join(clean) + "\n"
    clean_path.write_bytes(body.replace("\n", "\r\n").encode("utf-8"))
    assert _same(clean_path) is not None


@pytest.mark.parametrize("column", range(9))
@pytest.mark.parametrize("non_ascii", [False, True])
def test_a_byte_that_is_not_utf8_in_any_column_falls_back(
    column: int, non_ascii: bool, tmp_path: Path
) -> None:
    """In each column, among ASCII text or valid non-ASCII text, a bad byte is refused.

    Connector ids, session ids and contexts are checked on their distinct values, the
    other columns where the split is. The bad byte is in the first of a dozen plain
    successes, which is counted and never built into rows; both ways, the careful path
    reads the file.
    """
    path = _sessions_log(tmp_path, ("plain",))
    header, *lines = path.read_text().split("\n#Fields: ")[1].split("\n")
    if non_ascii:  # every line holds valid UTF-8 beyond ASCII in the column too
        lines = [_with_field(line, column, "\u00e4") if line else line for line in lines]
    lines[3] = _with_field(lines[3], column, "\udcff")
    body = path.read_text().split("\n#Fields: ")[0] + "\n#Fields: " + header + "\n"
    path.write_bytes((body + "\n".join(lines)).encode("utf-8", "surrogateescape"))
    assert summarise_clean_log(path) is None
    assert summarise_clean_log(path, overlap=False) is None
    _same(path)


def _with_field(line: str, column: int, text: str) -> str:
    """Return ``line`` with ``text`` after the first character of its field ``column``."""
    fields = next(csv.reader([line]))
    fields[column] = fields[column][:1] + text + fields[column][1:]
    return ",".join(_quote(field) for field in fields)


@_SETTINGS
@given(
    at=st.integers(0, 23),
    character=st.characters(min_codepoint=0x20, max_codepoint=0x7E),
    line=st.integers(0, 5),
)
def test_a_timestamp_with_any_byte_changed_is_read_as_carefully(
    at: int, character: str, line: int, tmp_path: Path
) -> None:
    """The fast path checks a stamp's punctuation and leaves its digits to pyarrow's cast.

    Any byte of any stamp changed to any printable byte, both ways: the fast path reads
    the file as the careful path does, or falls back.
    """
    lines = _clean_lines()
    lines[line] = lines[line][:at] + character + lines[line][at + 1 :]
    path = tmp_path / "SEND2024060110-1.LOG"
    body = _HEADER.format(kind="Send") + "\n".join(lines) + "\n"
    path.write_bytes(body.replace("\n", "\r\n").encode("utf-8"))
    _same(path)


_ACCEPTED_QUOTES = {
    "unneeded quotes": ("Outbound0,", '"Outbound0",'),
    "empty quoted fields": (",+,,", ',+,"",""'),
    "doubled quotes": ("EHLO mail.contoso.com", '"EHLO ""mail.contoso.com"", [10.0.0.1]"'),
    "a lone quote": (",Local", ',""""'),
}


@pytest.mark.parametrize("quoting", _ACCEPTED_QUOTES.values(), ids=list(_ACCEPTED_QUOTES))
def test_quotes_where_csv_puts_them_take_the_fast_path(
    quoting: tuple[str, str], tmp_path: Path
) -> None:
    """Quoted fields however CSV may write them (not only as Exchange does) are read column-wise."""
    old, new = quoting
    lines = [line.replace(old, new, 1) for line in _clean_lines()]
    assert lines != _clean_lines()
    for crlf in (False, True):
        path = tmp_path / f"SEND202406011{int(crlf)}-1.LOG"
        body = _HEADER.format(kind="Send") + "\n".join(lines)  # no line end after the last
        path.write_bytes((body.replace("\n", "\r\n") if crlf else body).encode())
        assert _same(path) is not None


def test_other_encodings_and_unknown_directions_fall_back(tmp_path: Path) -> None:
    """UTF-16 text, or a log whose direction neither its name nor its header gives, is read carefully."""
    body = "\r\n".join(_clean_lines()) + "\r\n"
    utf16 = tmp_path / "SEND2024060110-1.LOG"
    utf16.write_bytes(body.encode("utf-16"))
    nameless = tmp_path / "export.txt"
    nameless.write_bytes(body.encode("utf-8"))
    for path in (utf16, nameless):
        assert summarise_clean_log(path) is None
        _same(path)


def test_a_second_byte_order_mark_falls_back(tmp_path: Path) -> None:
    """A BOM after the file's BOM is text to csv (a bad timestamp) but skipped by pyarrow.

    The fast path took such a file's first row, which the careful path reports and drops.
    """
    path = tmp_path / "SEND2024060110-1.LOG"
    body = "\ufeff\ufeff" + "\r\n".join(_clean_lines()) + "\r\n"
    path.write_bytes(body.encode())
    assert summarise_clean_log(path) is None
    _same(path)


@pytest.mark.parametrize("path", PROTOCOL_LOGS, ids=lambda path: path.name)
def test_real_samples_agree(path: Path) -> None:
    """Every real protocol log sample gives the same summary and problems on both paths."""
    _same(path)


def test_a_real_exchange_log_takes_the_fast_path() -> None:
    """The KB 4051498 send log, as Exchange wrote it, is read column-wise."""
    path = ROOT / "examples" / "kb4051498" / "SEND2017100704-1.LOG"
    assert _same(path) is not None


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.name)
def test_examples_diagnose_alike(example: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every example gives the same diagnosis JSON with the columnar engine and without."""
    documents = []
    for engine in ("careful", "columnar"):
        main(["diagnose", str(example), "--format", "json", "--engine", engine])
        documents.append(json.loads(capsys.readouterr().out))
    assert documents[0] == documents[1]


def test_the_extra_is_installed_here() -> None:
    """The test extra installs pyarrow, so these tests run rather than pass vacuously."""
    assert columnar_available()


def test_the_engine_is_checked() -> None:
    """An unknown engine is refused with the ones there are."""
    with pytest.raises(ValueError, match="auto, careful, columnar"):
        map_logs([], engine="fast")  # type: ignore[arg-type]


def test_load_evidence_takes_the_engine() -> None:
    """load_evidence with either engine gives the same diagnosis of the KB example."""
    example = ROOT / "examples" / "kb4051498"
    diagnoses = [
        diagnose(load_evidence(example, engine=engine)).to_dict()
        for engine in ("careful", "columnar")
    ]
    assert diagnoses[0] == diagnoses[1]


def _line(moment: dt.datetime, connector: str, session: str, number: int, *rest: str) -> str:
    fields = (connector, session, str(number), "10.0.0.1:25", "203.0.113.9:25", *rest)
    stamp = f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}.000Z"  # %Y gives "1" for year 1
    return stamp + "," + ",".join(_quote(field) for field in fields)


def test_a_tally_key_too_large_for_64_bits_counts_each_success_apart(tmp_path: Path) -> None:
    """Tallies of 4,097 connectors, 8,191 thumbprints and protocols and 7,600 years keep apart.

    The key of a tally (connector, thumbprint, protocol, hour) was the product of their
    counts, which wraps past 64 bits: here connector 0 and connector 4,096 had one key,
    and both successes were counted under one of them.
    """
    early = dt.datetime(1, 1, 1, 10, tzinfo=dt.timezone.utc)
    late = early + dt.timedelta(hours=2**26 - 1)  # the hour range is 2**26
    thumbprints = [f"{index:040X}" for index in range(8191)]
    protocols = [_SUCCESS.replace("SP_PROT_TLS1_2_CLIENT", f"P{index}") for index in range(8191)]
    lines: list[str] = []

    def plain(moment: dt.datetime, connector: str, session: str) -> None:
        rows = [
            ("+", "", ""),
            ("*", "", "Sending certificate"),
            ("*", thumbprints[-1], "Certificate thumbprint"),
            ("*", "", protocols[-1]),
            ("-", "", "Local"),
        ]
        lines.extend(_line(moment, connector, session, at, *row) for at, row in enumerate(rows))

    # Connector 0 (first seen) and thumbprints 0-8,189 in one unusual session.
    filler = [("+", "", ""), *(("*", value, "Certificate thumbprint") for value in thumbprints)]
    lines += [_line(early, "C0", "F0", at, *row) for at, row in enumerate(filler[:-1])]
    lines.append(_line(early, "C0", "F0", len(filler) - 1, "-", "", "Local"))
    # Protocols 0-8,189 in another; connectors 1-4,095 in sessions of one row.
    lines += [_line(early, "C0", "F1", at, ">", "", text) for at, text in enumerate(protocols[:-1])]
    lines.append(_line(early, "C0", "F1", len(protocols), "-", "", "Local"))
    lines += [_line(early, f"C{at}", "F2", 0, "-", "", "Local") for at in range(1, 4096)]
    plain(early, "C0", "A")
    plain(early, "C4096", "B")
    plain(late, "C1", "C")
    path = tmp_path / "SEND2024060110-1.LOG"
    path.write_bytes((_HEADER.format(kind="Send") + "\n".join(lines) + "\n").encode())
    builder = _same(path)
    assert builder is not None
    tallies = builder.freeze().tallies
    assert sorted(tally.connector_id for tally in tallies) == ["C0", "C1", "C4096"]


def test_failures_whose_banners_carry_the_time_share_one_shape(tmp_path: Path) -> None:
    """Banners with times, and replies that differ only past their code, make no new shapes.

    Sessions that differ where the reading looks (STARTTLS offered or not, an error
    reply's code) still get their own signature, as on the careful path.
    """
    lines = []
    for offset in range(40):
        moment = _START + dt.timedelta(seconds=offset)
        offer = "250-STARTTLS" if offset % 3 else "250-8BITMIME"
        failure = (
            [("*", "", "TLS negotiation failed with error UnknownCredentials")]
            if offset % 2
            else [("<", f"451 4.7.0 Temporary server error {offset}", "")]
        )
        rows = [
            ("+", "", ""),
            (
                "<",
                f"220 mx{offset % 7}.example.net ready at Sun, 01 Nov 2026 10:00:{offset:02d}",
                "",
            ),
            (">", "EHLO mail.contoso.com", ""),
            ("<", offer, ""),
            ("<", f"250 SIZE {offset}", ""),
            (">", "STARTTLS", ""),
            ("<", "220 2.0.0 SMTP server ready", ""),
            *failure,
            ("-", "", "Local"),
        ]
        for number, (event, data, context) in enumerate(rows):
            fields = ("Outbound", f"08DC42C8FF2{offset:05X}", str(number), "10.0.0.1:25")
            fields += (_REMOTES[offset % len(_REMOTES)], event, data, context)
            moment += dt.timedelta(milliseconds=7)
            lines.append(_stamp(moment) + "," + ",".join(_quote(field) for field in fields))
    path = tmp_path / "SEND2024060110-1.LOG"
    path.write_bytes((_HEADER.format(kind="Send") + "\n".join(lines) + "\n").encode())
    columnar_counts._SHAPES.clear()
    builder = _same(path)
    assert builder is not None
    # Two failures, STARTTLS offered or not: four shapes at most, not forty.
    assert len(columnar_counts._SHAPES) <= 4


def test_blocks_are_split_ahead_in_a_thread_that_ends_with_the_file(tmp_path: Path) -> None:
    """The next block is split in a thread while this one is reduced, as if in turn.

    A spoilt line in the last block still sends the whole file to the careful path, and
    no thread outlives the file's reading (a process pool forks after it).
    """
    import threading

    clean = _clean_lines()
    path = tmp_path / "SEND2024060110-1.LOG"
    path.write_bytes((_HEADER.format(kind="Send") + "\r\n".join(clean) + "\r\n").encode())
    seen: list[str] = []
    real_split = columnar._Reducer.split

    def split(self: object, data: memoryview) -> object:
        seen.append(threading.current_thread().name)
        return real_split(self, data)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(columnar._Reducer, "split", split)
        patch.setattr(columnar, "BLOCK_BYTES", 1000)
        builder = summarise_clean_log(path)
    assert builder is not None
    assert builder.freeze() == _careful(path)[0]
    # The first block is split as the file is opened, here; the others ahead, there.
    assert len(seen) > 3
    assert seen[0] == threading.main_thread().name
    assert all(name.startswith("exchange-tls-split") for name in seen[1:])
    assert not [t for t in threading.enumerate() if t.name.startswith("exchange-tls-split")]
    spoilt = _mangle(clean, _MANGLES[0], len(clean) - 1)
    assert spoilt != clean
    path.write_bytes((_HEADER.format(kind="Send") + "\r\n".join(spoilt) + "\r\n").encode())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(columnar, "BLOCK_BYTES", 1000)
        assert summarise_clean_log(path) is None
    assert not [t for t in threading.enumerate() if t.name.startswith("exchange-tls-split")]


def test_files_read_in_turn_in_one_thread_share_a_buffer_and_read_alike(
    tmp_path: Path,
) -> None:
    """Files read in turn in one thread are read from one buffer, each as if alone.

    A long file, a shorter one, then one whose last line has no line end: nothing of
    the longer one before is left over.
    """
    clean = _clean_lines()
    bodies = [clean * 3, clean, clean[:-1]]
    paths = []
    for number, lines in enumerate(bodies):
        path = tmp_path / f"SEND202406011{number}-1.LOG"
        ending = "\r\n" if number < 2 else ""
        path.write_bytes((_HEADER.format(kind="Send") + "\r\n".join(lines) + ending).encode())
        paths.append(path)
    buffers = []
    for path in paths:
        builder = summarise_clean_log(path, overlap=False)
        assert builder is not None
        assert builder.freeze() == _careful(path)[0]
        buffers.append(columnar._SCRATCH.read)
    assert buffers[0] is buffers[1] is buffers[2]


def test_the_next_file_is_opened_ahead_and_read_alike(tmp_path: Path) -> None:
    """Files read in turn share the thread: each next file is opened and split ahead.

    The summaries are the careful path's, a file that must fall back among them falls
    back alone, and no thread is left when the reading ends.
    """
    import threading

    from exchange_tls.pipeline import reduce_logs

    clean = _clean_lines()
    paths = []
    for number in range(4):
        path = tmp_path / f"SEND202406011{number}-1.LOG"
        lines = _mangle(clean, _MANGLES[0], 3) if number == 3 else clean
        path.write_bytes((_HEADER.format(kind="Send") + "\r\n".join(lines) + "\r\n").encode())
        paths.append(path)
    opened: list[str] = []
    real_open = columnar._open

    def spy(path: Path) -> object:
        opened.append(threading.current_thread().name)
        return real_open(path)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(columnar, "_open", spy)
        patch.setattr(columnar, "BLOCK_BYTES", 1000)
        fast = reduce_logs(paths, engine="columnar", jobs=1)
    careful = reduce_logs(paths, engine="careful", jobs=1)
    assert fast.builders[0].freeze() == careful.builders[0].freeze()
    assert fast.problems == careful.problems
    assert opened[0] == threading.main_thread().name
    assert [name.startswith("exchange-tls-split") for name in opened[1:]] == [True] * 3
    assert not [t for t in threading.enumerate() if t.name.startswith("exchange-tls-split")]


@settings(max_examples=200, deadline=None)
@given(
    columns=st.lists(
        st.lists(st.one_of(st.text(max_size=4).map(str.encode), st.binary(max_size=4)), max_size=6),
        min_size=1,
        max_size=3,
    ),
    start=st.integers(0, 2),
)
def test_utf8_is_checked_in_every_column_that_needs_it(
    columns: list[list[bytes]], start: int
) -> None:
    """Both ways: a fallback exactly when some value of some column is not UTF-8."""
    import numpy as np
    import pyarrow as pa

    from exchange_tls.protocol_log.columnar_checks import Fallback, check_utf8

    arrays = []
    for values in columns:
        offsets = np.zeros(len(values) + 1, dtype=np.int32)
        np.cumsum([len(value) for value in values], out=offsets[1:])
        array = pa.Array.from_buffers(
            pa.string(), len(values), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(values))]
        )
        arrays.append(array.slice(min(start, len(values))))

    def valid(value: bytes) -> bool:
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True

    kept = [values[min(start, len(values)) :] for values in columns]
    if all(valid(value) for values in kept for value in values):
        check_utf8(arrays, np)
    else:
        with pytest.raises(Fallback):
            check_utf8(arrays, np)


def test_sessions_held_past_the_bound_are_built_as_the_careful_path_builds_them(
    tmp_path: Path,
) -> None:
    """With room to hold one session, held sessions are built block by block, alike."""
    path = _sessions_log(tmp_path, ("tls-failed", "connect-failed", "plain"))
    released: list[int] = []
    release = columnar._Reducer._release

    def spy(reducer: columnar._Reducer) -> None:
        released.append(len(reducer.extremes) + len(reducer.latest))
        release(reducer)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(columnar, "MAX_HELD", 1)
        patch.setattr(columnar._Reducer, "_release", spy)
        assert _same(path, block=2048) is not None
    assert len(released) > 2  # before the end of the file, too
