"""Time pathological inputs against a budget, and check that time grows linearly.

Run: ``python benchmarks/bench_pathological.py [--size CHARS] [--budget SECONDS]
[--session-log-mb MIB]``.

Each case feeds a public entry point an input built to make a careless parser
backtrack or loop: runs of quotes, hex digits, blanks, brackets, nested wrappers. Each
is timed at ``size / 8`` and at ``size`` characters (best of three), next to
the cheapest linear pass over the same text (its lines split at commas), the baseline
measured in the same run. A case passes
when the full size finishes within the budget and eight times the input costs at most
sixteen times the time; a quadratic pattern costs about sixty-four times. The exit
status is 1 when a case fails, so the script can guard a change to a pattern.
``--session-log-mb 2048`` first writes a 2 GiB log of one endless session and checks
that ``load_evidence`` reads it in under 500 MiB of peak resident memory.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))

from exchange_tls import (
    ParseError,
    assemble_sessions,
    parse_certificates,
    parse_last_error,
    parse_protocol_log,
    parse_queues,
    parse_send_connectors,
    parse_smtp_reply,
    parse_tls_certificate_name,
)
from exchange_tls.certificates.nrbf import read_nrbf
from exchange_tls.loading import load_evidence
from exchange_tls.powershell.dates import parse_culture_datetime

HEADER = (
    "#Software: Microsoft Exchange Server\n#Version: 15.0.0.0\n#Log-type: SMTP Send Protocol Log\n"
    "#Date: 2024-06-01T10:00:00.000Z\n#Fields: date-time,connector-id,session-id,"
    "sequence-number,local-endpoint,remote-endpoint,event,data,context\n"
)
ROW = "2024-06-01T10:00:00.000Z,Outbound,08DC0000000000A1,{seq},10.0.0.1:25,10.0.0.2:25,*,{data},{context}\n"


def _quiet(parse: Callable[[str], object]) -> Callable[[str], None]:
    """Run a reader, taking its ParseError as the clean refusal it is."""

    def run(text: str) -> None:
        with contextlib.suppress(ParseError):
            parse(text)

    return run


_log = _quiet(lambda text: parse_protocol_log(text, source="pathological.log"))
_pasted_log = _quiet(lambda text: parse_protocol_log(text, source="pathological.log", pasted=True))


def _sessions(text: str) -> None:
    log = parse_protocol_log(text, source="pathological.log")
    for session in assemble_sessions(log.rows):
        _ = session.tls


_CONDENSED = "Sending certificate Subject Issuer name Serial number Thumbprint Not before Not after"
# Rows stay under the csv field limit (128 KiB), so that they reach the session facts.
_ROW_DATA = 8_000


def _condensed_certificate(n: int) -> str:
    # Condensed certificate rows whose data is a long run of hex digits: the pattern that
    # finds the serial and thumbprint once backtracked over every start position.
    data = "CN=a CN=b " + "a" * _ROW_DATA
    rows = (
        ROW.format(seq=index, data=data, context=_CONDENSED)
        for index in range(max(1, n // _ROW_DATA))
    )
    return HEADER + "".join(rows)


def _many_dns(n: int) -> str:
    data = (
        "CN=x " * (_ROW_DATA // 5)
        + "12 "
        + "A" * 40
        + " 2024-01-01T00:00:00.000Z 2025-01-01T00:00:00.000Z"
    )
    rows = (
        ROW.format(seq=index, data=data, context=_CONDENSED)
        for index in range(max(1, n // _ROW_DATA))
    )
    return HEADER + "".join(rows)


def _one_session(n: int) -> str:
    rows = [ROW.format(seq=index, data=f'"a,""{index}"""', context="") for index in range(n // 90)]
    return HEADER + "".join(rows)


_CLIXML = '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'


def _json_objects(n: int) -> str:
    item = '{"Identity": "EX01\\\\1", "NextHopDomain": "contoso.com"}'
    return "[\n" + ",\n".join([item] * max(1, n // (len(item) + 2))) + "\n]"


def _unclosed_quote(n: int) -> str:
    rows = [ROW.format(seq=index, data="", context="ok") for index in range(max(2, n // 90))]
    rows[1] = rows[1].replace(",ok", ',"unclosed')
    return HEADER + "".join(rows)


def _nrbf_chain(text: str) -> None:
    library = b"\x0c\x01\x00\x00\x00\x01a"
    with contextlib.suppress(ParseError):
        read_nrbf(b"\x00" + b"\x00" * 16 + library * (len(text) // 7) + b"\x0b")


def _zip_of(text: str) -> None:
    # A member of the text's size, and one of zeros that inflates 1,000 times: the
    # ratio limit refuses it while inflating.
    import tempfile
    import zipfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "evidence.zip")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("queue.txt", text)
            archive.writestr("zeros.txt", b"\0" * (len(text) * 8))
        load_evidence(path)


#: name -> (surface, input of about n characters, what runs on it)
CASES: dict[str, tuple[str, Callable[[int], str], Callable[[str], None]]] = {
    "quote storm": ("protocol log", lambda n: '"' * n + "\n", _log),
    "doubled quotes": ("protocol log", lambda n: ",".join(['"a""b'] * (n // 6)), _log),
    "timestamps in one row": (
        "protocol log",
        lambda n: "2024-06-01T00:00:00.000Z," * (n // 25),
        _log,
    ),
    "wide #Fields": (
        "protocol log",
        lambda n: "#Fields: " + ",".join(["date-time"] * (n // 10)),
        _log,
    ),
    "bold markers": ("pasted log", lambda n: "**a" * (n // 3), _pasted_log),
    "escapes and quotes": ("pasted log", lambda n: "> \\*\u201c" * (n // 4), _pasted_log),
    "hex run in a certificate row": ("session facts", _condensed_certificate, _sessions),
    "many names in a certificate row": ("session facts", _many_dns, _sessions),
    "one long session": ("session facts", _one_session, _sessions),
    "blank run in LastError": (
        "LastError",
        lambda n: "[{LED=" + " " * n + "x}]",
        _quiet(parse_last_error),
    ),
    "brace storm in LastError": ("LastError", lambda n: "{;" * (n // 2), _quiet(parse_last_error)),
    "bracket storm in LastError": (
        "LastError",
        lambda n: "][A=" * (n // 4),
        _quiet(parse_last_error),
    ),
    "nested primary target": (
        "SMTP reply",
        lambda n: '451 4.4.0 Primary target IP address responded with: "' * (n // 55),
        _quiet(parse_smtp_reply),
    ),
    "reply chain": (
        "SMTP reply",
        lambda n: "451 4.4.0 x -> " * (n // 15),
        _quiet(parse_smtp_reply),
    ),
    "message brackets": (
        "SMTP reply",
        lambda n: "550 5.7.1 [Message=" * (n // 19),
        _quiet(parse_smtp_reply),
    ),
    "last endpoint clauses": (
        "SMTP reply",
        lambda n: "451 4.4.0 " + "The last endpoint attempted was " * (n // 32),
        _quiet(parse_smtp_reply),
    ),
    "list name without colon": (
        "Format-List",
        lambda n: "Identity" + "a" * n + "\n",
        _quiet(parse_queues),
    ),
    "table of dashes": (
        "Format-Table",
        lambda n: "Thumbprint Services\n" + "- " * (n // 2) + "\n",
        _quiet(parse_certificates),
    ),
    "CSV header quotes": ("Export-Csv", lambda n: '"a",' * (n // 4) + "\n", _quiet(parse_queues)),
    "deep JSON": ("ConvertTo-Json", lambda n: "[" * n, _quiet(parse_queues)),
    "deep CliXml": (
        "Export-Clixml",
        lambda n: (
            '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
            + "<Obj><LST>" * (n // 10)
        ),
        _quiet(parse_send_connectors),
    ),
    "long DN": (
        "TlsCertificateName",
        lambda n: "<I>CN=" + "a," * (n // 2),
        _quiet(parse_tls_certificate_name),
    ),
    "DN of equals": (
        "TlsCertificateName",
        lambda n: "<I>" + "=" * n,
        _quiet(parse_tls_certificate_name),
    ),
    "JSON array of objects": ("ConvertTo-Json", _json_objects, _quiet(parse_queues)),
    "JSON array of numbers": (
        "ConvertTo-Json",
        lambda n: "[" + ",".join(["1"] * (n // 2)) + "]",
        _quiet(parse_queues),
    ),
    "JSON number of many digits": (
        "ConvertTo-Json",
        lambda n: '{"Identity": "EX01\\\\1", "MessageCount": ' + "9" * n + "}",
        _quiet(parse_queues),
    ),
    "Format-List continuation lines": (
        "Format-List",
        lambda n: "Identity : EX01\\1\nLastError : start\n" + "   more words\n" * (n // 14),
        _quiet(parse_queues),
    ),
    "long CliXml attribute": (
        "Export-Clixml",
        lambda n: (
            _CLIXML + '<Obj RefId="0"><Props><S N="' + "a" * n + '">x</S></Props></Obj></Objs>'
        ),
        _quiet(parse_queues),
    ),
    "escaped commas in a DN": (
        "TlsCertificateName",
        lambda n: "<I>CN=a," + "O=\\,," * (n // 5) + "<S>CN=mail.contoso.com",
        _quiet(parse_tls_certificate_name),
    ),
    "unclosed quote, then rows": ("protocol log", _unclosed_quote, _log),
    "NRBF library chain": ("NRBF", lambda n: "x" * n, _nrbf_chain),
    "zip with a bomb member": (
        "load_evidence",
        lambda n: "Identity : EX01\\1\n" * (n // 17),
        _zip_of,
    ),
    "digits as a date": (
        "dates",
        lambda n: "1" * n,
        _quiet(lambda text: parse_culture_datetime(text, "MDY")),
    ),
}


def _best(run: Callable[[str], None], text: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run(text)
        best = min(best, time.perf_counter() - start)
    return best


def _baseline(text: str) -> None:
    # csv.reader stops at its field limit on some of these inputs, so the baseline is
    # the cheapest linear pass that still looks at every character: lines split at commas.
    for line in io.StringIO(text):
        line.split(",")


def _session_log_rss(megabytes: int) -> int:
    """Write a log of one endless session of that size; return load_evidence's peak RSS.

    The log is read in a child process, so its peak resident set size is its own.
    """
    import resource
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, "SEND20240601-1.LOG")
        with path.open("w", encoding="utf-8") as file:
            file.write(HEADER)
            written, seq = 0, 0
            while written < megabytes * 1024 * 1024:
                chunk = "".join(
                    ROW.format(seq=seq + index, data="", context="250 2.0.0 OK queued")
                    for index in range(10_000)
                )
                file.write(chunk)
                written += len(chunk)
                seq += 10_000
        code = (
            "import sys; from exchange_tls import load_evidence; "
            "e = load_evidence(sys.argv[1]); "
            "print(len(e.sessions), [p.code for p in e.problems])"
        )
        started = time.perf_counter()
        result = subprocess.run(  # noqa: S603 -- our own interpreter on our own file
            [sys.executable, "-c", code, str(path)],
            check=True,
            capture_output=True,
            text=True,
            env={"PYTHONPATH": str(Path(__file__).parent.parent)},
        )
        elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    print(
        f"one session in a {megabytes:,} MiB log: {elapsed:,.1f} s, peak RSS {peak:,} MiB, "
        f"load_evidence said {result.stdout.strip()}"
    )
    return peak


def main(argv: list[str] | None = None) -> int:
    """Run every case; print a Markdown table; return 1 when one fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size", type=int, default=1_000_000, help="characters (default 1,000,000)"
    )
    parser.add_argument(
        "--budget", type=float, default=2.0, help="seconds at full size (default 2)"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--session-log-mb",
        type=int,
        default=0,
        help="also read a log of one session of this many MiB; fail above 500 MiB RSS",
    )
    arguments = parser.parse_args(argv)
    if arguments.session_log_mb and _session_log_rss(arguments.session_log_mb) > 500:
        return 1
    small_size, size = arguments.size // 8, arguments.size
    print(
        f"size {size:,} characters (and {small_size:,}); budget {arguments.budget} s; best of {arguments.repeat}\n"
    )
    print("| case | surface | time at size | baseline | ratio | growth, 8x input | verdict |")
    print("|---|---|---:|---:|---:|---:|---|")
    failed = 0
    for name, (surface, make, run) in CASES.items():
        small, large = make(small_size), make(size)
        small_time = _best(run, small, arguments.repeat)
        large_time = _best(run, large, arguments.repeat)
        baseline = _best(_baseline, large, arguments.repeat)
        growth = large_time / max(small_time, 1e-6)
        # Below a millisecond, timer noise decides the growth figure: only the budget counts.
        ok = large_time <= arguments.budget and (growth <= 16 or large_time < 0.001)
        failed += not ok
        print(
            f"| {name} | {surface} | {large_time * 1000:,.1f} ms | {baseline * 1000:,.1f} ms "
            f"| {large_time / max(baseline, 1e-6):,.1f} | {growth:,.1f} | {'ok' if ok else '**FAIL**'} |"
        )
    print(f"\n{len(CASES) - failed} of {len(CASES)} cases within budget and linear")
    return 1 if failed else 0


# -- Server evidence: event logs, TLS registry settings, hybrid configuration (issue 15) --
# A separate block so that it merges apart from the cases above; main() reads CASES when
# it runs, so these count like the others.

from exchange_tls import (  # noqa: E402 -- the block is kept apart for merging
    Evidence,
    diagnose,
    parse_events,
    parse_hybrid_configuration,
    parse_manifest,
    parse_tls_settings,
)

_REG_KEY = "[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL]\n"
_EVENT_NS = "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'>"

CASES.update(
    {
        "quote run in a .reg string": (
            ".reg",
            lambda n: "REGEDIT4\n" + _REG_KEY + '"a"="' + '\\"' * (n // 2) + "\n",
            _quiet(parse_tls_settings),
        ),
        "endless hex continuation": (
            ".reg",
            lambda n: "REGEDIT4\n" + _REG_KEY + '"a"=hex:' + "00,\\\n" * (n // 5),
            _quiet(parse_tls_settings),
        ),
        "brackets in .reg keys": (
            ".reg",
            lambda n: "REGEDIT4\n" + "[" * n + "\n",
            _quiet(parse_tls_settings),
        ),
        "many .reg keys": (
            ".reg",
            lambda n: "REGEDIT4\n" + _REG_KEY * (n // len(_REG_KEY)),
            _quiet(parse_tls_settings),
        ),
        "deep event XML": (
            "event XML",
            lambda n: _EVENT_NS + "<System>" * (n // 8),
            _quiet(parse_events),
        ),
        "many empty events": (
            "event XML",
            lambda n: (_EVENT_NS + "</Event>") * (n // 80),
            _quiet(parse_events),
        ),
        "Event Viewer description run": (
            "Event Viewer text",
            lambda n: (
                "Log Name: Application\nEvent ID: 1\nDescription:\n" + "Event ID:\n" * (n // 10)
            ),
            _quiet(parse_events),
        ),
        "Get-WinEvent list of ids": (
            "Format-List",
            lambda n: "Id : 1\nProviderName : x\n" * (n // 25),
            _quiet(parse_events),
        ),
        "hybrid name of markers": (
            "Get-HybridConfiguration",
            lambda n: "OnPremisesSmartHost : a\nTlsCertificateName : " + "<I><S>" * (n // 6) + "\n",
            _quiet(parse_hybrid_configuration),
        ),
        "12014 message of connector phrases": (
            "rules over events",
            lambda n: (
                "Log Name: Application\nSource: MSExchangeTransport\nEvent ID: 12014\n"
                "Description:\ndomain name x in the personal store "
                + "for the connector "
                * (n // 18)
            ),
            _quiet(lambda text: diagnose(Evidence(events=parse_events(text)))),
        ),
        "pasted prompt lines": (
            "Format-List",
            lambda n: ("PS C:\\> Get-WinEvent | fl\n>> x\nId : 1\nProviderName : x\n") * (n // 40),
            _quiet(parse_events),
        ),
        "prompt of colons, no >": (
            "Format-List",
            lambda n: "PS C" + ":" * n + "\nId : 1\n",
            _quiet(parse_events),
        ),
        "prompts between registry keys": (
            "Get-ItemProperty",
            lambda n: ("PS C:\\> gp x\n\nEnabled : 0\nPSPath : x\n\n") * (n // 40),
            _quiet(parse_tls_settings),
        ),
        "Event Viewer copies with Event Xml": (
            "Event Viewer text",
            lambda n: (
                (
                    "Log Name: System\nSource: Schannel\nEvent ID: 36870\nDescription:\nx\n"
                    "Event Xml:\n"
                    + _EVENT_NS
                    + "<System><EventID>36870</EventID></System></Event>\n"
                )
                * (n // 200)
            ),
            _quiet(parse_events),
        ),
        "deep manifest JSON": (
            "manifest",
            lambda n: '{"ExchangeTlsEvidence": ' + "[" * n,
            _quiet(parse_manifest),
        ),
    }
)


# -- Budgets that were unit-test assertions (issue 25): the tests compare growth only ------
# A separate block so that it merges apart from the cases above.

CASES.update(
    {
        "open bracket in a Format-List value": (
            "Format-List",
            lambda n: "Identity : EX01\\1\nLastError : [{LED=" + "a;" * (n // 2) + "\n",
            _quiet(parse_queues),
        ),
        "one wide table row": (
            "Format-Table",
            lambda n: (
                "Thumbprint Services Subject\n---------- -------- -------\nAB IP.WS.. CN="
                + "x" * n
                + "\n"
            ),
            _quiet(parse_certificates),
        ),
        "one long log row": (
            "protocol log",
            lambda n: HEADER + ROW.format(seq=1, data="x" * n, context="ok"),
            _log,
        ),
        "dash runs under a short header": (
            "Format-Table",
            lambda n: "Thumbprint Services\n" + "- " * (n // 2) + "\n",
            _quiet(parse_certificates),
        ),
        "quotes in a Format-List LastError": (
            "Format-List",
            lambda n: 'Identity : EX01\\1\nLastError : [{LED=451 4.4.0 "' + '"' * n,
            _quiet(parse_queues),
        ),
    }
)


if __name__ == "__main__":
    raise SystemExit(main())
