"""PowerShell literals that cannot turn into code.

Every value that comes from evidence (a connector name, a thumbprint, a domain) is
written as a single-quoted string literal. Inside one, PowerShell expands nothing: no
``$()``, no backticks, no variables. The only character that ends it is a single quote,
and PowerShell takes the typographic single quotes U+2018, U+2019, U+201A and U+201B as
single quotes too; each of them is doubled, which PowerShell reads as one literal quote.
"""

from __future__ import annotations

import re

__all__ = ["SINGLE_QUOTES", "quote"]

#: The characters PowerShell treats as a single quote.
SINGLE_QUOTES = ("'", "\u2018", "\u2019", "\u201a", "\u201b")
_DOUBLED = str.maketrans({char: char * 2 for char in SINGLE_QUOTES})
# A literal may span lines; a line of it that reads "# SIG # Begin signature block" would
# make PowerShell take the rest of the script for an Authenticode signature.
_SIGNATURE_LINE = re.compile(r"(?i)[\r\n]\s*#\s*sig\s*#\s*(?:begin|end)\s+signature\s+block")


def quote(value: str) -> str:
    r"""Return ``value`` as a PowerShell single-quoted literal.

    >>> print(quote("Outbound to Office 365"))
    'Outbound to Office 365'
    >>> print(quote("it's $(Remove-Item C:\\) `n"))
    'it''s $(Remove-Item C:\) `n'

    A NUL character cannot be written in a PowerShell string and is refused, and so is
    a line that PowerShell would take for the start of a signature block.
    """
    if "\x00" in value:
        raise ValueError("a PowerShell string literal cannot hold a NUL character")
    if _SIGNATURE_LINE.search(value):
        raise ValueError("a PowerShell string literal cannot hold a signature-block line")
    return "'" + value.translate(_DOUBLED) + "'"
