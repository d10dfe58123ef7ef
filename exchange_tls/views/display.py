"""How a notebook shows each model as HTML, in one table: the notebook hook registers it.

Models do not import the views; :func:`html_displays` maps each model type to the view
that renders it, and :func:`register` gives the map to IPython's HTML formatter (the
``exchange_tls.notebook`` extension calls it: ``%load_ext exchange_tls.notebook``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from exchange_tls.certificates.models import ExchangeCertificate
from exchange_tls.connectors.models import ReceiveConnector, SendConnector
from exchange_tls.protocol_log.models import SmtpSession
from exchange_tls.queues.models import QueueRecord
from exchange_tls.views.html import record_html, session_html

__all__ = ["html_displays", "register"]


def html_displays() -> dict[type[Any], Callable[[Any], str]]:
    """Return the HTML view of each single record a notebook shows.

    >>> from exchange_tls.queues.models import QueueRecord
    >>> html_displays()[QueueRecord].__name__
    'record_html'
    """
    return {
        ExchangeCertificate: record_html,
        SendConnector: record_html,
        ReceiveConnector: record_html,
        QueueRecord: record_html,
        SmtpSession: session_html,
    }


def register(ipython: Any) -> None:
    """Give IPython's HTML formatter the view of each single record (see the module)."""
    formatter = ipython.display_formatter.formatters["text/html"]
    for kind, view in html_displays().items():
        formatter.for_type(kind, view)
