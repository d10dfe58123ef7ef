"""Write a noisy day of an internet-facing Exchange server's evidence (see benchmarks/README.md).

The generator itself is :mod:`exchange_tls._testing.noisy_day`, so that the tests of a fresh
clone can use it too; this is its command line.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from exchange_tls._testing.noisy_day import NoisyDay, write_day


def main(argv: list[str] | None = None) -> int:
    """Write the folder named on the command line."""
    defaults = NoisyDay()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--sessions", type=int, default=defaults.sessions)
    parser.add_argument("--hosts", type=int, default=defaults.hosts)
    parser.add_argument("--scanner-share", type=float, default=defaults.scanner_share)
    parser.add_argument("--connect-share", type=float, default=defaults.connect_share)
    parser.add_argument("--distinct-errors", type=int, default=0)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    arguments = parser.parse_args(argv)
    day = NoisyDay(
        sessions=arguments.sessions,
        hosts=arguments.hosts,
        scanner_share=arguments.scanner_share,
        connect_share=arguments.connect_share,
        distinct_errors=arguments.distinct_errors,
        seed=arguments.seed,
    )
    written = write_day(arguments.folder, day)
    size = sum(path.stat().st_size for path in written)
    print(f"{len(written)} files, {size / 1e6:.1f} MB in {arguments.folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
