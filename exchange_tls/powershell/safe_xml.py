"""XML from strangers, read one way: defusedxml's expat, in one feed, with limits reported.

Export-Clixml files and event XML come from other machines. Both are parsed here, so that
both refuse entities and external references (defusedxml), find an over-long tag before
expat does (expat's time grows with the square of one long attribute), feed the text in
one piece (``xml.sax.parseString`` feeds 64 KiB at a time, and expat scans a token that
spans feeds again from its start on every feed), and report every refusal as a
:class:`~exchange_tls.Problem` at its line.
"""

from __future__ import annotations

import re
import xml.sax
import xml.sax.handler
from collections.abc import Callable

from exchange_tls.errors import Problem, ProblemCollector

__all__ = ["MAX_ATTRIBUTE_CHARS", "XmlTooDeep", "XmlTooLong", "parse_xml", "strip_declaration"]

#: The longest attribute value read. CLIXML's attributes are property names, reference
#: ids and a version; an event's are names and times; a longer one is not evidence.
MAX_ATTRIBUTE_CHARS = 65_536

# A tag too long to hold only attributes within the limit; the match stops at the next
# "<" or ">", which keeps the search linear.
_LONG_TAG = re.compile(f"<[^<>]{{{MAX_ATTRIBUTE_CHARS + 4096}}}")
_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
# PowerShell writes no document type declaration, and one can define entities: refused
# before parsing, whatever it holds (defusedxml refuses entities, not the DTD itself).
_DOCTYPE = re.compile(r"<!DOCTYPE", re.IGNORECASE)


class XmlTooDeep(Exception):
    """A handler's nesting limit was passed, at ``line`` of the text parsed."""

    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


class XmlTooLong(XmlTooDeep):
    """A handler met an attribute longer than :data:`MAX_ATTRIBUTE_CHARS`."""


def strip_declaration(text: str) -> str:
    """Drop the XML declaration: the text is decoded already, and lines do not move.

    >>> strip_declaration('<?xml version="1.0" encoding="utf-16"?><Objs/>')
    '<Objs/>'
    """
    return _DECLARATION.sub("", text, count=1)


def parse_xml(
    text: str,
    handler: xml.sax.handler.ContentHandler,
    *,
    source: str,
    collector: ProblemCollector,
    depth: int,
    line: Callable[[], int],
    first_line: int = 1,
    wrap: tuple[str, str] | None = None,
) -> None:
    """Feed ``text`` to ``handler``; report what stops it, at its line in the evidence.

    ``line`` says where the parser is (1 for the text's first line); ``depth`` is the
    handler's nesting limit, for the message; ``wrap`` puts the text inside a root
    element, on the first line, for XML of several top elements.
    """
    body = strip_declaration(text)
    doctype = _DOCTYPE.search(body)
    if doctype is not None:
        collector.report(
            Problem(
                message="refused unsafe XML: a document type declaration (<!DOCTYPE>), which "
                "can define entities; PowerShell never writes one",
                source=source,
                line=first_line + body.count("\n", 0, doctype.start()),
                code="xml-unsafe",
            )
        )
        return
    long_tag = _LONG_TAG.search(body)
    if long_tag is not None:
        collector.report(
            Problem(
                message=f"an XML attribute longer than {MAX_ATTRIBUTE_CHARS:,} characters; "
                "the file was not read",
                source=source,
                line=first_line + body.count("\n", 0, long_tag.start()),
                code="xml-limit",
            )
        )
        return
    # Imported here: defusedxml's expat reader imports xml.sax.saxutils, and with it
    # urllib, http and email, which a run without XML evidence does not need.
    import defusedxml
    import defusedxml.expatreader

    parser = defusedxml.expatreader.create_parser()
    parser.setContentHandler(handler)
    parser.setErrorHandler(xml.sax.ErrorHandler())
    if wrap is not None:
        body = wrap[0] + body + wrap[1]
    try:
        parser.feed(body.encode("utf-8"))
        parser.close()
    except xml.sax.SAXParseException as error:
        number = error.getLineNumber() or 1
        lines = text.split("\n")
        collector.report(
            Problem(
                message=f"not well-formed XML: {error.getMessage()}",
                source=source,
                line=first_line + number - 1,
                column=(error.getColumnNumber() or 0) + 1,
                line_text=lines[number - 1] if 0 < number <= len(lines) else None,
                code="xml-error",
            )
        )
    except defusedxml.DefusedXmlException as error:
        collector.report(
            Problem(
                message=f"refused unsafe XML: {error}",
                source=source,
                line=first_line + line() - 1,
                code="xml-unsafe",
            )
        )
    except XmlTooLong as error:
        collector.report(
            Problem(
                message=f"an XML attribute longer than {MAX_ATTRIBUTE_CHARS:,} characters; "
                "reading stopped there",
                source=source,
                line=first_line + error.line - 1,
                code="xml-limit",
            )
        )
    except XmlTooDeep as error:
        collector.report(
            Problem(
                message=f"XML nested deeper than {depth} elements",
                source=source,
                line=first_line + error.line - 1,
                code="xml-depth",
            )
        )
