"""Read event XML: ``wevtutil qe /f:xml``, ``Get-WinEvent | ForEach-Object ToXml``, .evtx.

``wevtutil`` writes ``<Event>`` elements one after another without a root element;
Event Viewer's "Save as XML" wraps them in ``<Events>``. Both are read, through
:mod:`defusedxml` (no entity expansion, no external references), with each event tied
to the line where its ``<Event>`` starts.
"""

from __future__ import annotations

import re
import xml.sax
import xml.sax.handler
from typing import Any

from exchange_tls.errors import Problem, ProblemCollector, Severity
from exchange_tls.powershell.safe_xml import XmlTooDeep, parse_xml, strip_declaration
from exchange_tls.sources import SourceRef

__all__ = ["MAX_DEPTH", "RawEvent", "looks_like_event_xml", "read_event_xml"]

#: The deepest element nesting read; an event needs fewer than ten levels.
MAX_DEPTH = 50

_EVENT_NAMESPACE = "schemas.microsoft.com/win/2004/08/events/event"
_OPEN = "<__exchange_tls_events__>"
_CLOSE = "</__exchange_tls_events__>"

#: One event as XML gives it: element paths to texts, attributes, and data fields.
RawEvent = dict[str, Any]


def looks_like_event_xml(text: str) -> bool:
    """Whether ``text`` is event XML (an ``<Event>`` in the event schema's namespace)."""
    head = _PROLOGUE.sub("", strip_declaration(text.lstrip()[:2000]))
    return head.startswith(("<Event", "<Events")) and _EVENT_NAMESPACE in head


# What may come between the declaration and the first element: comments, and a document
# type declaration, which the reader refuses as unsafe (it is recognised here so that the
# refusal, not "could not tell what this file holds", is what the user reads).
_PROLOGUE = re.compile(r"^(?:\s|<!--.*?-->|<!DOCTYPE[^\[>]*(?:\[[^\]]*\])?\s*>)*", re.DOTALL)


class _Handler(xml.sax.handler.ContentHandler):
    def __init__(self, source: str, first_line: int, collector: ProblemCollector) -> None:
        super().__init__()
        self.collector = collector
        self.source = source
        self.first_line = first_line
        self.events: list[RawEvent] = []
        self.stack: list[str] = []
        self.has_child: list[bool] = []
        self.current: RawEvent | None = None
        self.text: list[str] = []
        self.data_name: str | None = None
        self._locator: Any = None

    def setDocumentLocator(self, locator: Any) -> None:
        self._locator = locator

    def line(self) -> int:
        # The wrapper element sits on the first line, so lines do not move.
        number = self._locator.getLineNumber() if self._locator is not None else 1
        return int(number or 1) + self.first_line - 1

    def startElement(self, name: str, attributes: Any) -> None:
        local = name.rsplit(":", 1)[-1]
        if self.has_child:
            self.has_child[-1] = True
        self.stack.append(local)
        self.has_child.append(False)
        if len(self.stack) > MAX_DEPTH:
            raise XmlTooDeep(self.line() - self.first_line + 1)
        self.text = []
        if local == "Event" and self.current is None:
            self.current = {"line": self.line(), "data": [], "attributes": {}}
            return
        if self.current is None:
            if len(self.stack) == 2 and local != "Events":
                self.collector.report(
                    Problem(
                        message=f"ignored <{local}> outside an <Event>",
                        source=self.source,
                        line=self.line(),
                        severity=Severity.WARNING,
                        code="not-an-event",
                    )
                )
            return
        for key in attributes.getNames():
            self.current["attributes"][f"{local}@{key}"] = attributes.getValue(key)
        if local in ("Data", "string"):
            self.data_name = attributes.get("Name")

    def characters(self, content: str) -> None:
        self.text.append(content)

    def endElement(self, name: str) -> None:
        local = self.stack.pop() if self.stack else name
        leaf = not self.has_child.pop() if self.has_child else True
        text = "".join(self.text).strip()
        self.text = []
        if self.current is None:
            return
        if local == "Event" and "Event" not in self.stack:
            self.events.append(self.current)
            self.current = None
            return
        parent = self.stack[-1] if self.stack else ""
        if local in ("Data", "string") and parent in ("EventData", "UserData", "Strings"):
            self.current["data"].append((self.data_name, text))
            self.data_name = None
        elif "UserData" in self.stack and leaf and parent != "UserData":
            # Providers such as Schannel put their fields in UserData as named elements
            # (<EventXML><Type>server</Type><Protocol>TLS 1.2</Protocol>…).
            self.current["data"].append((local, text))
        elif local != "Data" and text:
            self.current.setdefault(f"{parent}/{local}", text)


def read_event_xml(
    text: str, *, source: str, collector: ProblemCollector, first_line: int = 1
) -> list[tuple[RawEvent, SourceRef]]:
    """Read event XML into raw events, each with the place its ``<Event>`` starts."""
    handler = _Handler(source, first_line, collector)
    parse_xml(
        text,
        handler,
        source=source,
        collector=collector,
        depth=MAX_DEPTH,
        line=lambda: handler.line() - first_line + 1,
        first_line=first_line,
        wrap=(_OPEN, _CLOSE),
    )
    return [(event, SourceRef(source, event["line"])) for event in handler.events]
