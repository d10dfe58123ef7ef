"""Issue 27, item 7: the day order is inferred from the evidence when any date decides it.

A file whose dates fit one day order only (25/04/2026) decides it for the files of the
same collection whose dates fit several (03/04/2026): one collection, one culture.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from exchange_tls import load_evidence

UTC = dt.timezone.utc


def _certificate(thumbprint: str, not_before: str, not_after: str) -> str:
    return (
        f"CertificateDomains : {{mail.contoso.com}}\n"
        "HasPrivateKey      : True\n"
        "IsSelfSigned       : False\n"
        "Issuer             : CN=Contoso CA\n"
        f"NotAfter           : {not_after}\n"
        f"NotBefore          : {not_before}\n"
        "Services           : IIS, SMTP\n"
        "Status             : Valid\n"
        "Subject            : CN=mail.contoso.com\n"
        f"Thumbprint         : {thumbprint}\n"
    )


DECIDING = _certificate("A" * 40, "25/04/2025 10:00:00", "25/04/2027 10:00:00")
AMBIGUOUS = _certificate("B" * 40, "03/04/2025 10:00:00", "03/04/2027 10:00:00")


def _not_after(folder: Path, thumbprint: str) -> dt.datetime | None:
    evidence = load_evidence(folder)
    [certificate] = [c for c in evidence.certificates if c.thumbprint == thumbprint]
    return certificate.not_after


def test_a_date_in_one_file_decides_the_order_of_another(tmp_path: Path) -> None:
    """03/04/2027 is read as 3 April when another file of the folder has 25/04/2025."""
    (tmp_path / "certificates-ex01.txt").write_text(DECIDING)
    (tmp_path / "certificates-ex02.txt").write_text(AMBIGUOUS)
    evidence = load_evidence(tmp_path)
    [certificate] = [c for c in evidence.certificates if c.thumbprint == "B" * 40]
    assert certificate.not_after == dt.datetime(2027, 4, 3, 10, tzinfo=UTC)
    told = [
        p
        for p in evidence.problems
        if p.source.endswith("certificates-ex02.txt") and p.code == "date-order-inferred"
    ]
    assert len(told) == 1
    assert "DMY" in told[0].message
    assert "certificates-ex01.txt" in told[0].message
    assert not [p for p in evidence.problems if p.code == "ambiguous-date"]


def test_alone_an_ambiguous_file_stays_unread_and_reported(tmp_path: Path) -> None:
    """Without a deciding date, the ambiguous date is left unknown, as before."""
    (tmp_path / "certificates-ex02.txt").write_text(AMBIGUOUS)
    evidence = load_evidence(tmp_path)
    assert _not_after(tmp_path, "B" * 40) is None
    assert [p for p in evidence.problems if p.code == "ambiguous-date"]


def test_files_that_disagree_decide_nothing(tmp_path: Path) -> None:
    """One file says DMY, another MDY (two cultures): the ambiguous file stays unknown."""
    (tmp_path / "a.txt").write_text(DECIDING)
    (tmp_path / "b.txt").write_text(
        _certificate("C" * 40, "04/25/2025 10:00:00", "04/25/2027 10:00:00")
    )
    (tmp_path / "c.txt").write_text(AMBIGUOUS)
    assert _not_after(tmp_path, "B" * 40) is None


def test_an_order_given_is_never_overridden(tmp_path: Path) -> None:
    """date_order="MDY" given: 03/04/2027 is 4 March, whatever another file suggests."""
    (tmp_path / "certificates-ex02.txt").write_text(AMBIGUOUS)
    evidence = load_evidence(tmp_path, date_order="MDY")
    [certificate] = [c for c in evidence.certificates if c.thumbprint == "B" * 40]
    assert certificate.not_after == dt.datetime(2027, 3, 4, 10, tzinfo=UTC)


def test_separate_collections_do_not_decide_for_each_other(tmp_path: Path) -> None:
    """Two folders given: each is its own collection, its own culture."""
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    (tmp_path / "one" / "certificates.txt").write_text(DECIDING)
    (tmp_path / "two" / "certificates.txt").write_text(AMBIGUOUS)
    evidence = load_evidence(tmp_path / "one", tmp_path / "two")
    [certificate] = [c for c in evidence.certificates if c.thumbprint == "B" * 40]
    assert certificate.not_after is None
