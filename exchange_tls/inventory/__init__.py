"""Server inventory evidence: the Exchange build (Get-ExchangeServer) and the Windows version."""

from __future__ import annotations

from exchange_tls.inventory.models import (
    EXCHANGE_2019_CU15,
    EXCHANGE_SE_RTM,
    WINDOWS_SERVER_2022,
    ExchangeBuild,
    ExchangeServerInfo,
    InventoryRecord,
    WindowsInfo,
    parse_build,
)
from exchange_tls.inventory.reader import (
    inventory_key,
    looks_like_inventory,
    parse_inventory,
    read_inventory,
)
from exchange_tls.inventory.support import Tls13Support, tls13_support

__all__ = [
    "EXCHANGE_2019_CU15",
    "EXCHANGE_SE_RTM",
    "WINDOWS_SERVER_2022",
    "ExchangeBuild",
    "ExchangeServerInfo",
    "InventoryRecord",
    "Tls13Support",
    "WindowsInfo",
    "inventory_key",
    "looks_like_inventory",
    "parse_build",
    "parse_inventory",
    "read_inventory",
    "tls13_support",
]
