"""What the inventory says about a build-dependent fact: TLS 1.3.

HealthChecker (CSS-Exchange ``Invoke-AnalyzerSecuritySettings.ps1``) reports TLS 1.3 as
an error unless the server runs Exchange Server 2019 CU15 or Exchange Server SE (or
later) **and** Windows Server 2022 or later (an operating system other than Windows
Server 2012, 2012 R2, 2016 or 2019). :func:`tls13_support` answers the same question,
and says which half of the evidence is missing when it cannot.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from exchange_tls.inventory.models import (
    EXCHANGE_2019_CU15,
    ExchangeServerInfo,
    InventoryRecord,
    WindowsInfo,
)

__all__ = ["Tls13Support", "tls13_support"]


@attrs.frozen(kw_only=True)
class Tls13Support:
    """Whether HealthChecker accepts TLS 1.3 on this server, and why."""

    #: ``True``/``False`` when the build and Windows are known; ``None`` otherwise.
    supported: bool | None
    reason: str
    exchange: ExchangeServerInfo | None = None
    windows: WindowsInfo | None = None
    #: What to collect to decide: ``Get-ExchangeServer`` and/or the operating system.
    missing: tuple[str, ...] = ()


_EXCHANGE_COMMAND = "Get-ExchangeServer | Format-List Name,Fqdn,Edition,AdminDisplayVersion"
_WINDOWS_COMMAND = "Get-CimInstance Win32_OperatingSystem | Format-List Caption,Version,BuildNumber"


def tls13_support(records: Iterable[InventoryRecord]) -> Tls13Support:
    """Say whether TLS 1.3 is supported on the server the inventory describes.

    >>> from exchange_tls.inventory.models import ExchangeBuild
    >>> exchange = ExchangeServerInfo(build=ExchangeBuild(15, 2, 1748, 10))
    >>> tls13_support([exchange, WindowsInfo(build_number=20348)]).supported
    True
    >>> tls13_support([exchange, WindowsInfo(build_number=17763)]).supported
    False
    >>> tls13_support([exchange]).missing
    ('the Windows version (Get-CimInstance Win32_OperatingSystem)',)
    """
    items = list(records)
    exchange = next(
        (r for r in items if isinstance(r, ExchangeServerInfo) and r.build is not None), None
    )
    windows = next(
        (r for r in items if isinstance(r, WindowsInfo) and r.build_number is not None), None
    )
    missing = []
    if exchange is None:
        missing.append("the Exchange build (Get-ExchangeServer)")
    if windows is None:
        missing.append("the Windows version (Get-CimInstance Win32_OperatingSystem)")
    if exchange is None or windows is None:
        return Tls13Support(
            supported=None,
            reason="HealthChecker accepts TLS 1.3 only on Exchange Server 2019 CU15 or "
            "Exchange Server SE on Windows Server 2022 or later, and "
            + " and ".join(missing)
            + (" was" if len(missing) == 1 else " were")
            + " not collected ("
            + "; ".join(
                command
                for command, absent in (
                    (_EXCHANGE_COMMAND, exchange is None),
                    (_WINDOWS_COMMAND, windows is None),
                )
                if absent
            )
            + ").",
            exchange=exchange,
            windows=windows,
            missing=tuple(missing),
        )
    assert exchange.build is not None  # noqa: S101 -- chosen for its build
    build_ok = exchange.build >= EXCHANGE_2019_CU15
    os_ok = bool(windows.is_server_2022_or_later)
    product = f"{exchange.build.product} ({exchange.build})"
    system = windows.caption or f"Windows build {windows.build_number}"
    if build_ok and os_ok:
        reason = f"{product} on {system}: HealthChecker accepts TLS 1.3 here."
    else:
        lacks = []
        if not build_ok:
            lacks.append(f"{product} is older than Exchange Server 2019 CU15 (15.2.1748.10)")
        if not os_ok:
            lacks.append(f"{system} is older than Windows Server 2022 (build 20348)")
        reason = "HealthChecker does not accept TLS 1.3 here: " + "; ".join(lacks) + "."
    return Tls13Support(
        supported=build_ok and os_ok, reason=reason, exchange=exchange, windows=windows
    )
