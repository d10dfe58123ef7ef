"""``python -m exchange_tls``: describe the bundled KB 4051498 evidence."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from exchange_tls import __version__
from exchange_tls.bundled import EXAMPLE, example_files
from exchange_tls.sources import decode_bytes

_NEWLINE_NAMES = {"\r\n": "CRLF", "\n": "LF", "\r": "CR", "mixed": "mixed", None: "none"}


def describe_example(name: str = EXAMPLE) -> str:
    """Describe each file of a bundled example: encoding, line endings, lines, problems."""
    lines = [f"exchange_tls {__version__}: the bundled {name} evidence"]
    for entry in example_files(name):
        decoded = decode_bytes(entry.read_bytes(), entry.name)
        bom = " with BOM" if decoded.bom else ""
        lines.append(
            f"  {entry.name}: {decoded.encoding}{bom}, "
            f"{_NEWLINE_NAMES[decoded.newline]} line endings, {len(decoded.lines)} lines, "
            f"{len(decoded.problems)} problems"
        )
        lines.extend(f"    {problem}" for problem in decoded.problems)
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
