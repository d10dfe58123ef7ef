"""Server inventory evidence: the Exchange build (Get-ExchangeServer) and the Windows version."""

from __future__ import annotations

from typing import TYPE_CHECKING

from exchange_tls._lazy import exports

if TYPE_CHECKING:
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

# Imported on first use (exchange_tls._lazy), so importing one module of the
# package does not import the others.
if not TYPE_CHECKING:  # type checkers read the imports above
    __getattr__, __dir__ = exports(
        __name__,
        {
            "EXCHANGE_2019_CU15": "models",
            "EXCHANGE_SE_RTM": "models",
            "WINDOWS_SERVER_2022": "models",
            "ExchangeBuild": "models",
            "ExchangeServerInfo": "models",
            "InventoryRecord": "models",
            "WindowsInfo": "models",
            "parse_build": "models",
            "inventory_key": "reader",
            "looks_like_inventory": "reader",
            "parse_inventory": "reader",
            "read_inventory": "reader",
            "Tls13Support": "support",
            "tls13_support": "support",
        },
        __all__,
    )
