"""The command line's options for the background thresholds (``exchange-tls diagnose``)."""

from __future__ import annotations

import argparse

from exchange_tls.diagnosis import Thresholds

__all__ = ["add_threshold_options", "thresholds_from"]


def _share(text: str) -> float:
    """Read a share from 0 to 1 (``0.25``) or a percentage (``25%``)."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a share: {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"a share is from 0 to 1 (or 0% to 100%): {text!r}")
    return value


def _count(text: str) -> int:
    """Read a count of one or more."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a count of 1 or more: {text!r}")
    return int(text)


def add_threshold_options(command: argparse.ArgumentParser) -> None:
    """Add ``--background-share`` and ``--background-remotes`` to ``command``."""
    defaults = Thresholds()
    command.add_argument(
        "--background-share",
        type=_share,
        default=defaults.background_share,
        metavar="SHARE",
        help="inbound failures at most this share of a receive connector's sessions, from "
        "many remote hosts and no known partner, are background (info); 0 reports them as "
        f"problems (default {defaults.background_share})",
    )
    command.add_argument(
        "--background-remotes",
        type=_count,
        default=defaults.background_remotes,
        metavar="N",
        help="background comes from at least this many distinct remote hosts "
        f"(default {defaults.background_remotes})",
    )


def thresholds_from(arguments: argparse.Namespace) -> Thresholds:
    """Return the thresholds the options set."""
    return Thresholds(
        background_share=arguments.background_share,
        background_remotes=arguments.background_remotes,
    )
