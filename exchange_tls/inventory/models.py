"""Server inventory: which Exchange build and which Windows a server runs.

Some rules are true or false by build: Microsoft's HealthChecker accepts TLS 1.3 only on
Exchange Server 2019 CU15 (15.2.1748.10) or Exchange Server SE (15.2.2562.17) and later,
on Windows Server 2022 or later (CSS-Exchange, ``Invoke-AnalyzerSecuritySettings.ps1``
and ``Shared/Get-ExchangeBuildVersionInformation.ps1``). Those rules read the inventory
here, and say so when it is missing.
"""

from __future__ import annotations

import re

import attrs

from exchange_tls.sources import SourceRef

__all__ = [
    "EXCHANGE_2019_CU15",
    "EXCHANGE_SE_RTM",
    "WINDOWS_SERVER_2022",
    "ExchangeBuild",
    "ExchangeServerInfo",
    "InventoryRecord",
    "WindowsInfo",
    "parse_build",
]

_BUILD = re.compile(
    r"(?:Version\s+)?(?P<major>\d+)\.(?P<minor>\d+)(?:\s*\(Build\s+|\.)(?P<build>\d+)"
    r"(?:\.(?P<revision>\d+))?",
    re.IGNORECASE,
)


@attrs.frozen(order=True)
class ExchangeBuild:
    """An Exchange build number, ordered: 15.2.1748.10."""

    major: int
    minor: int
    build: int
    revision: int = 0

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.build}.{self.revision}"

    @property
    def product(self) -> str:
        """The product the build belongs to, by its major and minor version.

        >>> ExchangeBuild(15, 2, 2562, 17).product, ExchangeBuild(15, 1, 2507, 6).product
        ('Exchange Server SE', 'Exchange Server 2016')
        """
        if (self.major, self.minor) == (15, 2):
            return "Exchange Server SE" if self >= EXCHANGE_SE_RTM else "Exchange Server 2019"
        return {
            (15, 1): "Exchange Server 2016",
            (15, 0): "Exchange Server 2013",
            (14, 3): "Exchange Server 2010",
        }.get((self.major, self.minor), f"Exchange {self.major}.{self.minor}")


#: Exchange Server 2019 CU15 and Exchange Server SE RTM (CSS-Exchange's build table).
EXCHANGE_2019_CU15 = ExchangeBuild(15, 2, 1748, 10)
EXCHANGE_SE_RTM = ExchangeBuild(15, 2, 2562, 17)
#: Windows Server 2022's build number; HealthChecker's TLS 1.3 check wants it or later.
WINDOWS_SERVER_2022 = 20348


def parse_build(text: str | None) -> ExchangeBuild | None:
    """Read a build from AdminDisplayVersion (``Version 15.2 (Build 1748.10)``) or a dotted one.

    >>> str(parse_build("Version 15.2 (Build 1748.10)"))
    '15.2.1748.10'
    >>> str(parse_build("15.02.1748.010"))
    '15.2.1748.10'
    >>> parse_build("Enterprise") is None
    True
    """
    if not text:
        return None
    match = _BUILD.search(text)
    if match is None:
        return None
    return ExchangeBuild(
        int(match.group("major")),
        int(match.group("minor")),
        int(match.group("build")),
        int(match.group("revision") or 0),
    )


@attrs.frozen(kw_only=True)
class ExchangeServerInfo:
    """One server of ``Get-ExchangeServer``; what the input did not carry is ``None``."""

    name: str | None = None
    fqdn: str | None = None
    #: ``Standard``, ``Enterprise``, ``StandardEvaluation`` …
    edition: str | None = None
    #: AdminDisplayVersion as written (``Version 15.2 (Build 1748.10)``).
    version_text: str | None = None
    build: ExchangeBuild | None = None
    server_role: str | None = None
    source: SourceRef | None = None


@attrs.frozen(kw_only=True)
class WindowsInfo:
    """The operating system of a server (``Get-CimInstance Win32_OperatingSystem``)."""

    #: The computer's name (CSName, or PSComputerName through remoting).
    computer: str | None = None
    #: ``Microsoft Windows Server 2022 Datacenter``.
    caption: str | None = None
    #: ``10.0.20348``.
    version: str | None = None
    build_number: int | None = None
    source: SourceRef | None = None

    @property
    def is_server_2022_or_later(self) -> bool | None:
        """Whether this is Windows Server 2022 or later; ``None`` when the build is unknown."""
        if self.build_number is None:
            return None
        return self.build_number >= WINDOWS_SERVER_2022


InventoryRecord = ExchangeServerInfo | WindowsInfo
