"""``python -m exchange_tls``: read the bundled KB 4051498 evidence and say what it shows."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from exchange_tls import __version__
from exchange_tls.bundled import EXAMPLE, example_files
from exchange_tls.queues import QueueRecord, parse_queues
from exchange_tls.smtp import SmtpReply
from exchange_tls.sources import decode_bytes

_NEWLINE_NAMES = {"\r\n": "CRLF", "\n": "LF", "\r": "CR", "mixed": "mixed", None: "none"}


def _describe_reply(reply: SmtpReply, indent: str) -> list[str]:
    lines = []
    for depth, link in enumerate(reply.chain):
        enhanced = link.enhanced
        meaning = f" ({enhanced.description})" if enhanced is not None else ""
        label = "LastError" if depth == 0 else "wrapping"
        nesting = "  " * max(depth - 1, 0)
        codes = f"{link.code} {enhanced}" if enhanced is not None else str(link.code)
        lines.append(f"{indent}{nesting}{label}: {codes}{meaning}")
        if link.last_endpoint is not None:
            lines.append(f"{indent}  last endpoint tried: {link.last_endpoint}")
    return lines


def _describe_queue(queue: QueueRecord) -> list[str]:
    count = "?" if queue.message_count is None else queue.message_count
    lines = [
        f"    queue {queue.identity} to {queue.next_hop_domain}: "
        f"{queue.status or 'status unknown'}, {count} messages"
    ]
    if queue.last_error is not None and queue.last_error.reply is not None:
        lines.extend(_describe_reply(queue.last_error.reply, "      "))
    return lines


def describe_example(name: str = EXAMPLE) -> str:
    """Describe each file of a bundled example and decode the queues it holds."""
    lines = [f"exchange_tls {__version__}: the bundled {name} evidence"]
    for entry in example_files(name):
        decoded = decode_bytes(entry.read_bytes(), entry.name)
        bom = " with BOM" if decoded.bom else ""
        lines.append(
            f"  {entry.name}: {decoded.encoding}{bom}, "
            f"{_NEWLINE_NAMES[decoded.newline]} line endings, {len(decoded.lines)} lines"
        )
        lines.extend(f"    {problem}" for problem in decoded.problems)
        if entry.name.startswith("get-queue"):
            for queue in parse_queues(decoded.text, source=entry.name, date_order="MDY"):
                lines.extend(_describe_queue(queue))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Print the description of the bundled example and return the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments:
        print("usage: python -m exchange_tls", file=sys.stderr)
        return 2
    print(describe_example())
    return 0


if __name__ == "__main__":
    sys.exit(main())
