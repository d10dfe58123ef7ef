"""Generate a realistic, seeded folder of SMTP send protocol logs for the benchmarks.

Each file is what Exchange writes: a UTF-8 BOM, the five header directives, CRLF line
ends, and rows of many interleaved sessions, with quoted fields (certificate DNs, the
TLS success line), non-ASCII connector names and a share of TLS failures.

Two profiles: ``clean`` (5% TLS failures of one kind, banners without times, remote hosts
at random) and ``unhealthy`` (20% of sessions fail in four ways: two TLS errors, a failed
connection and a 4xx reply; 50,000 remote hosts; banners that carry the time, as
Exchange's do, so that no two failures read alike).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
from pathlib import Path
from typing import NamedTuple

HEADER = (
    "#Software: Microsoft Exchange Server\r\n"
    "#Version: 15.0.0.0\r\n"
    "#Log-type: SMTP Send Protocol Log\r\n"
    "#Date: {date}\r\n"
    "#Fields: date-time,connector-id,session-id,sequence-number,local-endpoint,"
    "remote-endpoint,event,data,context\r\n"
)
CONNECTORS = [
    "Outbound to Office 365",
    "Internet Mail",
    "组织内 SMTP 发送连接器",
    "Relais für Ämter",
]
SUCCESS = (
    '"TLS protocol SP_PROT_TLS1_2_CLIENT negotiation succeeded using bulk encryption '
    "algorithm CALG_AES_256 with strength 256 bits, MAC hash algorithm CALG_SHA_384 with "
    'strength 0 bits and key exchange algorithm CALG_ECDHE with strength 384 bits"'
)
SUBJECT = '"CN=*.contoso.com, OU=Messaging, O=Contoso Ltd, L=Zürich, C=CH"'
ISSUER = '"CN=Contoso Issuing CA 01, O=Contoso Ltd, C=CH"'
# Exchange selects one certificate per connector, so each connector presents the same
# serial number and thumbprint in every session (seeded, so the folder is reproducible).
_CERTIFICATES = random.Random(4495258)
CERTIFICATES = {
    connector: (f"{_CERTIFICATES.getrandbits(64):016X}", f"{_CERTIFICATES.getrandbits(160):040X}")
    for connector in CONNECTORS
}


class Profile(NamedTuple):
    """What the generated sessions look like."""

    failing: float = 0.05
    hosts: int | None = None  # None: remote addresses at random
    banner_times: bool = False
    kinds: tuple[str, ...] = ("tls",)


PROFILES = {
    "clean": Profile(),
    "unhealthy": Profile(
        failing=0.20,
        hosts=50_000,
        banner_times=True,
        kinds=("tls", "tls-illegal", "connect", "reply"),
    ),
}
_FAILURES = {
    "tls": "TLS negotiation failed with error UnknownCredentials",
    "tls-illegal": "TLS negotiation failed with error IllegalMessage",
}


def _remote(rng: random.Random, profile: Profile) -> str:
    if profile.hosts is None:
        return (
            f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}."
            f"{rng.randrange(256)}:25"
        )
    host = rng.randrange(profile.hosts)
    return f"198.{18 + host // 65536}.{host // 256 % 256}.{host % 256}:25"


def _session(
    rng: random.Random, when: dt.datetime, session: int, profile: Profile = PROFILES["clean"]
) -> list[tuple[dt.datetime, str]]:
    connector = rng.choice(CONNECTORS)
    local = f"10.0.{rng.randrange(256)}.{rng.randrange(256)}:{rng.randrange(1024, 65535)}"
    remote = _remote(rng, profile)
    session_id = f"{0x08D50D3D00000000 + session:016X}"
    fails = rng.random() < profile.failing
    kind = rng.choice(profile.kinds) if fails else ""
    banner = f"220 mx{rng.randrange(100)}.example.net Microsoft ESMTP MAIL Service ready"
    if profile.banner_times:
        banner += f" at {when:%a, %d %b %Y %H:%M:%S} +0000"
    if kind == "connect":
        return _rows(
            rng,
            when,
            connector,
            session_id,
            local,
            remote,
            [
                ("*", "", "attempting to connect"),
                (
                    "*",
                    "",
                    "Failed to connect. Winsock error code: 10060, Win32 error code: 10060.",
                ),
                ("-", "", "Local"),
            ],
        )
    lines = [
        ("+", "", ""),
        ("<", banner, ""),
        (">", "EHLO mail.contoso.com", ""),
        ("<", "250-mx.example.net Hello [203.0.113.7]", ""),
        ("<", "250-SIZE 157286400", ""),
        ("<", "250-PIPELINING", ""),
        ("<", "250-STARTTLS", ""),
        ("<", "250 CHUNKING", ""),
        (">", "STARTTLS", ""),
        ("<", "220 2.0.0 SMTP server ready", ""),
        ("*", "", "Sending certificate"),
        ("*", SUBJECT, "Certificate subject"),
        ("*", ISSUER, "Certificate issuer name"),
        ("*", CERTIFICATES[connector][0], "Certificate serial number"),
        ("*", CERTIFICATES[connector][1], "Certificate thumbprint"),
        ("*", "*.contoso.com;contoso.com", "Certificate alternate names"),
    ]
    if kind in _FAILURES:
        lines += [("*", "", _FAILURES[kind]), ("-", "", "Local")]
    elif kind == "reply":
        lines += [
            ("*", "", SUCCESS),
            (">", "EHLO mail.contoso.com", ""),
            ("<", "451 4.7.0 Temporary server error. Please try again later. PRX5", ""),
            ("-", "", "Remote"),
        ]
    else:
        lines += [
            ("*", "", SUCCESS),
            (">", "EHLO mail.contoso.com", ""),
            ("<", "250-mx.example.net Hello [203.0.113.7]", ""),
            ("<", "250 CHUNKING", ""),
            ("*", f"{rng.getrandbits(40)};250 2.1.5 Recipient OK", "sending message"),
            (
                ">",
                f"MAIL FROM:<user{rng.randrange(10**6)}@contoso.com> SIZE={rng.randrange(10**6)}",
                "",
            ),
            (">", f"RCPT TO:<r{rng.randrange(10**6)}@example.net>", ""),
            ("<", "250 2.1.0 Sender OK", ""),
            ("<", "250 2.1.5 Recipient OK", ""),
            (">", "BDAT 12345 LAST", ""),
            (
                "<",
                "250 2.6.0 <msg@contoso.com> [InternalId=123, Hostname=mx] Queued mail for delivery",
                "",
            ),
            (">", "QUIT", ""),
            ("<", "221 2.0.0 Service closing transmission channel", ""),
            ("-", "", "Local"),
        ]
    return _rows(rng, when, connector, session_id, local, remote, lines)


def _rows(
    rng: random.Random,
    when: dt.datetime,
    connector: str,
    session_id: str,
    local: str,
    remote: str,
    lines: list[tuple[str, str, str]],
) -> list[tuple[dt.datetime, str]]:
    rows = []
    moment = when
    for sequence, (event, data, context) in enumerate(lines):
        moment += dt.timedelta(milliseconds=rng.randrange(0, 40))
        if "," in context and not context.startswith('"'):
            context = f'"{context}"'
        if "," in data and not data.startswith('"'):
            data = f'"{data}"'
        rows.append(
            (
                moment,
                f"{connector},{session_id},{sequence},{local},{remote},{event},{data},{context}",
            )
        )
    return rows


def generate(
    folder: Path,
    files: int,
    megabytes: float,
    seed: int = 4051498,
    profile: str = "clean",
) -> list[Path]:
    """Write ``files`` logs of about ``megabytes`` MB each into ``folder``; return them."""
    shape = PROFILES[profile]
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    start = dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
    session = 0
    paths = []
    for index in range(files):
        # Exchange's hourly names; more files than hours take instance numbers.
        path = folder / f"SEND20261101{index % 24:02d}-{index // 24 + 1}.LOG"
        target = int(megabytes * 1_000_000)
        written = 0
        with path.open("wb") as out:
            out.write(b"\xef\xbb\xbf")
            out.write(HEADER.format(date=start.isoformat().replace("+00:00", ".000Z")).encode())
            while written < target:
                # Sessions interleave: several run at once and their rows are merged.
                batch = []
                for _ in range(8):
                    batch.extend(_session(rng, start, session, shape))
                    session += 1
                    start += dt.timedelta(milliseconds=rng.randrange(5, 200))
                batch.sort(key=lambda item: item[0])
                text = "".join(
                    f"{moment.strftime('%Y-%m-%dT%H:%M:%S.')}{moment.microsecond // 1000:03d}Z,{row}\r\n"
                    for moment, row in batch
                )
                data = text.encode("utf-8")
                out.write(data)
                written += len(data)
        paths.append(path)
    return paths


def main() -> None:
    """Generate the folder named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--megabytes", type=float, default=10)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="clean")
    arguments = parser.parse_args()
    generate(arguments.folder, arguments.files, arguments.megabytes, profile=arguments.profile)


if __name__ == "__main__":
    main()
