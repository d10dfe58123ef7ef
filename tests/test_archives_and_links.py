"""Issue 25 items 3 and 4: archives inside archives, and links inside the evidence folder.

Nothing is skipped in silence: an inner archive is opened (to a bounded depth, within the
outer archive's budget) or reported with the reason, and never read as another kind; a
link inside the folder given is followed (each file read once, loops ended) or reported.
"""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import pytest

import exchange_tls.budgets as budgets
from exchange_tls import Evidence, load_evidence
from exchange_tls.budgets import MAX_ARCHIVE_DEPTH

ROOT = Path(__file__).parent.parent
KB = ROOT / "examples/kb4051498"
#: The KB 4051498 example: a send log, certificates, a connector and a queue.
EVIDENCE = {
    path.name: path.read_bytes()
    for path in sorted(KB.iterdir())
    if path.name not in {"README.md", "EXPECTED.md"}
}
QUEUE_FL = b"Identity : EX01\\1\nNextHopDomain : contoso.com\nStatus : Retry\n"


def zip_bytes(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """Return a zip archive of ``members``."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def codes(evidence: Evidence) -> set[str]:
    """Return the codes of the evidence's problems."""
    return {problem.code for problem in evidence.problems if problem.code}


def left_out(evidence: Evidence) -> dict[str, str]:
    """Return the files listed as not read, with their notes."""
    return {file.name: file.note for file in evidence.files if file.note is not None}


def assert_kb_evidence(evidence: Evidence) -> None:
    """Every kind of the example was read, and nothing was read as a protocol log twice."""
    assert len(evidence.certificates) == 3
    assert len(evidence.send_connectors) == 1
    assert len(evidence.queues) == 1
    assert evidence.summary is not None
    assert evidence.summary.send_sessions == 1
    logs = [file.name for file in evidence.files if file.kind == "protocol-log"]
    assert len(logs) == 1
    assert logs[0].endswith("!/SEND2017100704-1.LOG")


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_a_zip_inside_a_zip_is_opened(tmp_path: Path, method: int) -> None:
    """A stored inner zip shows its members' text: it is opened, not read as a log."""
    outer = tmp_path / "outer.zip"
    outer.write_bytes(zip_bytes({"bundle/evidence.zip": zip_bytes(EVIDENCE, method)}, method))
    evidence = load_evidence(outer, date_order="MDY")
    assert_kb_evidence(evidence)
    names = {file.name for file in evidence.files}
    assert f"{outer}!/bundle/evidence.zip!/get-exchangecertificate-fl.txt" in names
    assert not left_out(evidence)


def test_an_inner_zip_without_its_name_is_still_an_archive(tmp_path: Path) -> None:
    """The content tells, not the name: an inner archive named .dat is opened."""
    outer = tmp_path / "outer.zip"
    inner = zip_bytes(EVIDENCE, zipfile.ZIP_STORED)
    outer.write_bytes(zip_bytes({"evidence.dat": inner}, zipfile.ZIP_STORED))
    assert_kb_evidence(load_evidence(outer, date_order="MDY"))


def test_archives_deeper_than_the_limit_are_reported_not_opened(tmp_path: Path) -> None:
    """Past MAX_ARCHIVE_DEPTH the archive is listed as left out, with the reason."""
    data = zip_bytes({"queue.txt": QUEUE_FL})
    for level in range(MAX_ARCHIVE_DEPTH + 1):
        data = zip_bytes({f"level{level}.zip": data})
    archive = tmp_path / "deep.zip"
    archive.write_bytes(data)
    evidence = load_evidence(archive)
    assert evidence.queues == ()
    assert "archive-too-deep" in codes(evidence)
    [(name, note)] = left_out(evidence).items()
    assert name.count("!/") == MAX_ARCHIVE_DEPTH
    assert f"archives are opened {MAX_ARCHIVE_DEPTH} deep" in note
    # One level less is read.
    data = zip_bytes({"queue.txt": QUEUE_FL})
    for level in range(MAX_ARCHIVE_DEPTH - 1):
        data = zip_bytes({f"level{level}.zip": data})
    archive.write_bytes(data)
    assert len(load_evidence(archive).queues) == 1


def test_an_inner_archive_inflates_from_the_outer_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The inner archive's members count against the outermost archive's limit."""
    monkeypatch.setattr(budgets, "MAX_ARCHIVE_BYTES", 64 * 1024)
    inner = zip_bytes({"big.txt": b"x" * (256 * 1024), "queue.txt": QUEUE_FL})
    archive = tmp_path / "outer.zip"
    archive.write_bytes(zip_bytes({"inner.zip": inner}))
    evidence = load_evidence(archive)
    assert codes(evidence) & {"too-large", "bad-archive"}
    assert left_out(evidence)


def test_a_damaged_inner_zip_is_reported_not_read_as_another_kind(tmp_path: Path) -> None:
    """Bytes that begin as a zip but are none: bad-archive, never a protocol log."""
    fake = b"PK\x03\x04" + b"#Fields: date-time,connector-id\n" * 10
    archive = tmp_path / "outer.zip"
    archive.write_bytes(zip_bytes({"inner.zip": fake, "queue.txt": QUEUE_FL}))
    evidence = load_evidence(archive)
    assert len(evidence.queues) == 1
    assert "bad-archive" in codes(evidence)
    assert all(file.kind != "protocol-log" for file in evidence.files)
    assert list(left_out(evidence)) == [f"{archive}!/inner.zip"]


def test_an_archive_of_another_format_is_named(tmp_path: Path) -> None:
    """A gzip member is left out as a gzip archive, not as text nobody could place."""
    archive = tmp_path / "outer.zip"
    log = gzip.compress(EVIDENCE["SEND2017100704-1.LOG"])
    archive.write_bytes(zip_bytes({"SEND.LOG.gz": log, "queue.txt": QUEUE_FL}))
    evidence = load_evidence(archive)
    assert "unsupported-archive" in codes(evidence)
    assert "a gzip archive" in left_out(evidence)[f"{archive}!/SEND.LOG.gz"]


def test_a_tiny_member_is_opened_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Work per member is counted: a member shorter than the head is not opened twice."""
    count = 200
    archive = tmp_path / "tiny.zip"
    archive.write_bytes(zip_bytes({f"f{n:04}.txt": f"x{n}\n".encode() for n in range(count)}))
    opened = 0
    real_open = zipfile.ZipFile.open

    def counting_open(self: zipfile.ZipFile, *args: object, **kwargs: object) -> object:
        nonlocal opened
        opened += 1
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(zipfile.ZipFile, "open", counting_open)
    evidence = load_evidence(archive)
    assert len(evidence.files) == count
    assert opened == count


def test_a_folder_of_logs_is_not_searched_for_zip_directories(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that begins as text is no archive: its last 64 KiB are not read to make sure.

    zipfile.is_zipfile reads that much of every file it is asked about; a fleet's logs
    are thousands of files. An archive is still found, whatever its first bytes.
    """
    import exchange_tls.walking as walking

    probed: list[bool] = []
    real = zipfile.is_zipfile

    def counting(file: object) -> bool:
        probed.append(real(file))  # type: ignore[arg-type]
        return probed[-1]

    monkeypatch.setattr(walking.zipfile, "is_zipfile", counting)
    write_evidence(tmp_path / "text")
    (tmp_path / "text" / "UTF16.txt").write_bytes("Status : Retry\n".encode("utf-16"))
    (tmp_path / "evidence.zip").write_bytes(zip_bytes(EVIDENCE))
    # A zip after a program's bytes (a self-extracting archive) is still an archive.
    (tmp_path / "sfx.exe").write_bytes(b"MZ\x90\x00" + zip_bytes({"q.txt": QUEUE_FL}))
    evidence = load_evidence(tmp_path, date_order="MDY")
    # Asked of the two UTF-16 files (the example's certificates are UTF-16 too), the zip
    # and the program only: no to the first two.
    assert sorted(probed) == [False, False, True, True]
    names = {file.name for file in evidence.files}
    assert f"{tmp_path / 'sfx.exe'}!/q.txt" in names
    assert f"{tmp_path / 'evidence.zip'}!/SEND2017100704-1.LOG" in names


@pytest.mark.parametrize(
    ("head", "text"),
    [
        (b"#Software", True),
        (b"\xef\xbb\xbf#Softwa", True),
        (b"Status :", True),
        (b"\tIdentity", True),
        (b"PK\x03\x04\x14\x00\x00\x00", False),
        (b"\xff\xfe#\x00S\x00o\x00", False),  # UTF-16: asked, as before
        (b"MZ\x90\x00", False),
        (b"\xef\xbb\xbf", False),  # nothing after the BOM yet
        (b"", False),
        (b"caf\xc3\xa9 au", False),  # non-ASCII: asked
    ],
)
def test_what_begins_as_text(head: bytes, text: bool) -> None:
    """The first bytes that spare a file the zip probe, and those that do not."""
    from exchange_tls.walking import _begins_as_text

    assert _begins_as_text(head) is text


# -- links -----------------------------------------------------------------------------------


def write_evidence(folder: Path) -> None:
    """Write the example's files into ``folder``."""
    folder.mkdir(parents=True)
    for name, data in EVIDENCE.items():
        (folder / name).write_bytes(data)


def test_a_link_to_a_folder_inside_the_evidence_is_followed(tmp_path: Path) -> None:
    """Logs/SmtpSend -> ../real: the linked folder's files are read, once."""
    evidence_folder = tmp_path / "evidence"
    write_evidence(evidence_folder / "real")
    (evidence_folder / "Logs").mkdir()
    (evidence_folder / "Logs" / "SmtpSend").symlink_to("../real")
    evidence = load_evidence(evidence_folder, date_order="MDY")
    assert len(evidence.certificates) == 3
    assert evidence.summary is not None
    assert evidence.summary.send_sessions == 1
    [note] = [p for p in evidence.problems if p.source.endswith("SmtpSend")]
    assert "read already" in note.message


def test_a_link_out_of_the_evidence_folder_is_reported_and_listed(tmp_path: Path) -> None:
    """A link leading outside the folder given is not followed, and says where it leads."""
    write_evidence(tmp_path / "elsewhere")
    evidence_folder = tmp_path / "evidence"
    evidence_folder.mkdir()
    (evidence_folder / "queue.txt").write_bytes(QUEUE_FL)
    (evidence_folder / "SmtpSend").symlink_to(tmp_path / "elsewhere")
    (evidence_folder / "certs.txt").symlink_to(tmp_path / "elsewhere" / "get-queue-fl.txt")
    evidence = load_evidence(evidence_folder)
    assert len(evidence.queues) == 1
    assert evidence.certificates == ()
    notes = left_out(evidence)
    assert set(notes) == {str(evidence_folder / "SmtpSend"), str(evidence_folder / "certs.txt")}
    assert all("outside the folder given; not followed" in note for note in notes.values())
    assert "link-not-followed" in codes(evidence)


def test_a_file_reached_twice_is_read_once(tmp_path: Path) -> None:
    """A link to a file of the folder is a second name: the queue is not counted twice."""
    (tmp_path / "queue.txt").write_bytes(QUEUE_FL)
    (tmp_path / "again.txt").symlink_to("queue.txt")
    evidence = load_evidence(tmp_path)
    assert len(evidence.files) == 1
    [note] = [p for p in evidence.problems if p.source.endswith("again.txt")]
    assert "the same file as" in note.message
