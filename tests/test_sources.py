import codecs
import io
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from exchange_tls import SourceRef
from exchange_tls.errors import Severity
from exchange_tls.sources import MAX_DECODE_PROBLEMS, decode_bytes, read_source

KB_LOG = "protocol-logs/ms-kb4051498_send-log_unknowncredentials_blank-endpoints.log"
LAST_ROW = (
    "2017-10-07T04:42:56.804Z,Outbound to Office 365,08D50D3D9730A8D2,21,,,*,,"
    "TLS negotiation failed with error UnknownCredentials"
)


@pytest.fixture
def kb_text(data_dir: Path) -> str:
    """Return the KB 4051498 rows as plain UTF-8 text with LF endings."""
    return (data_dir / KB_LOG).read_bytes().decode("utf-8")


@pytest.mark.parametrize(
    ("name", "encoding", "bom", "newline"),
    [
        ("kb4051498_utf8_bom_crlf.log", "utf-8", True, "\r\n"),
        ("kb4051498_utf16le_bom_crlf.log", "utf-16-le", True, "\r\n"),
        ("kb4051498_utf16be_bom_crlf.log", "utf-16-be", True, "\r\n"),
        ("kb4051498_utf16le_nobom.log", "utf-16-le", False, "\r\n"),
        ("kb4051498_cr_only.log", "utf-8", False, "\r"),
    ],
)
def test_every_encoding_decodes_to_the_same_text(
    data_dir: Path, kb_text: str, name: str, encoding: str, bom: bool, newline: str
) -> None:
    """UTF-8/16 with or without BOM and any line ending give the same LF text."""
    decoded = read_source(data_dir / "encodings" / name)
    assert decoded.text.rstrip("\n") == kb_text.rstrip("\n")
    assert (decoded.encoding, decoded.bom, decoded.newline) == (encoding, bom, newline)
    assert decoded.lines[-1] == LAST_ROW
    assert not [problem for problem in decoded.problems if problem.severity is not Severity.INFO]


def test_guessed_utf16_is_reported_as_info(data_dir: Path) -> None:
    """Reading UTF-16 without a BOM says so, as information."""
    decoded = read_source(data_dir / "encodings" / "kb4051498_utf16le_nobom.log")
    [problem] = decoded.problems
    assert problem.severity is Severity.INFO
    assert problem.code == "encoding-guessed"


def test_invalid_utf8_bytes_are_replaced_and_reported_at_their_line(data_dir: Path) -> None:
    """Each run of bad bytes becomes U+FFFD and a warning at its line and column."""
    path = data_dir / "encodings" / "kb4051498_invalid_utf8.log"
    decoded = read_source(path)
    assert decoded.lines[2].endswith("Certificate serial n\ufffdmber")
    assert decoded.lines[5].endswith("UnknownCredentials \ufffd\ufffd")
    first, second = decoded.problems
    assert (first.line, first.column) == (3, len(decoded.lines[2]) - 4)
    assert first.message == "undecodable byte 0xFC replaced with U+FFFD"
    assert (second.line, second.column) == (6, len(decoded.lines[5]) - 1)
    assert second.message == "undecodable 2 bytes 0xE2 0x82 replaced with U+FFFD"
    assert str(first).startswith(f"{path}:3:{first.column}: warning: undecodable byte 0xFC")


def test_real_utf8_bom_clixml_decodes(data_dir: Path) -> None:
    """A real Export-Clixml file (UTF-8 with BOM) decodes without problems."""
    path = (
        data_dir
        / "corpus/certificates/css-exchange_monitorauthcert_NewExchangeCertificateDefaultTransport_clixml.xml"
    )
    decoded = read_source(path)
    assert decoded.bom
    assert decoded.text.startswith("<Objs ")
    assert decoded.problems == ()


def test_real_utf8_without_bom_keeps_non_ascii(data_dir: Path) -> None:
    """The Chinese connector name in a real send log survives decoding."""
    path = (
        data_dir
        / "protocol-logs/cn-blog_ex2013-to-ex2010_send-log_tls1.0-received-cert_logondenied_chinese-connector.log"
    )
    decoded = read_source(path)
    assert "组织内 SMTP 发送连接器" in decoded.text
    assert (decoded.encoding, decoded.bom, decoded.problems) == ("utf-8", False, ())


def test_truncated_utf16_reports_the_odd_byte() -> None:
    """A UTF-16 file cut in the middle of a code unit reports the stray byte."""
    data = codecs.BOM_UTF16_LE + "Retry\n".encode("utf-16-le") + b"A"
    decoded = decode_bytes(data, "q.txt")
    assert decoded.text == "Retry\n\ufffd"
    [problem] = decoded.problems
    assert (problem.line, problem.column, problem.message) == (
        2,
        1,
        "undecodable byte 0x41 replaced with U+FFFD",
    )


def test_lone_surrogate_in_utf16_is_reported() -> None:
    """An unpaired surrogate in UTF-16 is undecodable, not passed through."""
    data = codecs.BOM_UTF16_LE + "ab".encode("utf-16-le") + b"\x00\xd8" + "c".encode("utf-16-le")
    decoded = decode_bytes(data)
    assert decoded.text == "ab\ufffd\ufffdc"
    assert len(decoded.problems) == 1


def test_utf32_with_bom_is_not_mistaken_for_utf16() -> None:
    """The UTF-32 LE mark, which begins like UTF-16 LE's, is recognised first."""
    decoded = decode_bytes(codecs.BOM_UTF32_LE + "Valid".encode("utf-32-le"))
    assert (decoded.text, decoded.encoding) == ("Valid", "utf-32-le")


def test_utf16_starting_with_nul_and_odd_units_is_not_utf32() -> None:
    """FF FE 00 00 whose length is no multiple of four can only be UTF-16 LE."""
    decoded = decode_bytes(codecs.BOM_UTF16_LE + "\x00k".encode("utf-16-le"))
    assert (decoded.text, decoded.encoding) == ("\x00k", "utf-16-le")


def test_mixed_line_endings_are_all_normalised() -> None:
    """CRLF, CR and LF in one file all become LF, and the mix is named."""
    decoded = decode_bytes(b"a\r\nb\rc\nd")
    assert decoded.lines == ["a", "b", "c", "d"]
    assert decoded.newline == "mixed"


def test_text_without_line_break_has_no_newline_style() -> None:
    """A single line reports no line ending, and empty input gives no lines."""
    assert decode_bytes(b"abc").newline is None
    assert decode_bytes(b"").lines == []


def test_many_bad_bytes_are_summed_up_after_the_limit() -> None:
    """Past the limit, the remaining bad runs are counted in one summary problem."""
    data = b"x\xff" * (MAX_DECODE_PROBLEMS + 25)
    decoded = decode_bytes(data)
    assert decoded.text == "x\ufffd" * (MAX_DECODE_PROBLEMS + 25)
    assert len(decoded.problems) == MAX_DECODE_PROBLEMS + 1
    assert decoded.problems[-1].message.startswith("25 more runs of undecodable bytes")


def test_read_source_accepts_binary_file_objects() -> None:
    """A binary stream is read and named after its name attribute or the given name."""
    decoded = read_source(io.BytesIO(b"Status : Retry\r\n"), name="pasted")
    assert (decoded.text, decoded.source) == ("Status : Retry\n", "pasted")
    assert read_source(io.BytesIO(b"")).source == "<stream>"


def test_read_source_refuses_text_streams() -> None:
    """A text-mode stream is a programming error with a clear message."""
    with pytest.raises(TypeError, match="binary mode"):
        read_source(io.StringIO("x"))  # type: ignore[arg-type]


def test_source_ref_renders_and_sorts() -> None:
    """SourceRef prints as source:line and sorts by source, then line."""
    refs = [SourceRef("b.log", 1), SourceRef("a.log", 9), SourceRef("a.log", 2)]
    assert [str(ref) for ref in sorted(refs)] == ["a.log:2", "a.log:9", "b.log:1"]
    assert str(SourceRef("a.log")) == "a.log"


@given(st.text())
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16-le", "utf-16-be", "utf-32-le"])
def test_any_text_round_trips_through_any_encoding_with_bom(encoding: str, text: str) -> None:
    """Text encoded with a BOM decodes back to itself, line endings normalised."""
    bom = {
        "utf-8": codecs.BOM_UTF8,
        "utf-16-le": codecs.BOM_UTF16_LE,
        "utf-16-be": codecs.BOM_UTF16_BE,
        "utf-32-le": codecs.BOM_UTF32_LE,
    }[encoding]
    # FF FE followed by U+0000 is also the UTF-32 LE mark; no reader can tell them apart.
    assume(not (encoding == "utf-16-le" and text.startswith("\x00")))
    data = bom + text.encode(encoding)
    decoded = decode_bytes(data)
    assert decoded.text == text.replace("\r\n", "\n").replace("\r", "\n")
    assert decoded.problems == ()


def _reported_bytes(message: str) -> int:
    """How many bytes a per-run undecodable-bytes message names."""
    count = message.split()[1]
    return int(count) if count.isdigit() else 1


@given(st.binary(max_size=2000))
def test_any_bytes_decode_and_every_replacement_is_reported(data: bytes) -> None:
    """Arbitrary bytes decode without raising, and each U+FFFD added is reported."""
    decoded = decode_bytes(data, "fuzz")
    assert "\r" not in decoded.text
    listed = [p for p in decoded.problems if p.code == "undecodable-bytes" and p.line]
    if len(listed) < MAX_DECODE_PROBLEMS:
        already_there = data.decode(decoded.encoding, "ignore").count("\ufffd")
        added = decoded.text.count("\ufffd") - already_there
        assert sum(_reported_bytes(problem.message) for problem in listed) == added
    lines = decoded.text.split("\n")
    for problem in listed:
        assert problem.line is not None
        assert problem.column is not None
        assert lines[problem.line - 1][problem.column - 1] == "\ufffd"
