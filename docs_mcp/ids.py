"""Pure: doc ids, and the `docs://` URIs of doc resources.

A doc id is the source file's path under the corpus root without its suffix
(`guides/install.md` -> `guides/install`), so ids read like the docs' own tree.
Tools take `id#anchor`, and get_doc strips what it is given, so the few
characters that would change how an id reads are percent-encoded in it, and
nothing else:

    %                                   -> %25   every other escape stays unambiguous
    #                                   -> %23   `c#-guide.md` -> `c%23-guide`: `#` starts the anchor
    control characters                  -> %XX   a newline in a name would break line-based output
    white space at either end of the id -> %XX   tools strip the ids they are given

Anchors are slugs (markdown.slugify: letters, digits, `_`, `-`), so the first `#`
of `id#anchor` always ends the id. A resource URI is `docs://` and the file's
path without suffix, percent-encoded as a URI path (RFC 3986): `docs://c%23-guide`,
`docs://guides/getting%20started`. The MCP SDK decodes a template's value once;
`doc_id_from_uri_value` escapes it again. Every name the corpus walk accepts
round-trips through both (tests/test_ids.py).
"""

from __future__ import annotations

import unicodedata
from urllib.parse import quote, unquote

RESOURCE_SCHEME = "docs://"
# Kept as they are in a resource URI: RFC 3986 path characters besides the unreserved ones.
_URI_PATH_SAFE = "/!$&'()*+,;=:@"


def _escape(char: str) -> str:
    return "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))


def escape_doc_id(name: str) -> str:
    """The doc id of a source path without its suffix (see the module docstring)."""
    escaped = [_escape(char) if char in "%#" or unicodedata.category(char) == "Cc" else char for char in name]
    for index in range(len(escaped)):  # white space the tools would strip, at the start ...
        if not escaped[index].isspace():
            break
        escaped[index] = _escape(escaped[index])
    for index in range(len(escaped) - 1, -1, -1):  # ... and at the end
        if not escaped[index].isspace():
            break
        escaped[index] = _escape(escaped[index])
    return "".join(escaped)


def unescape_doc_id(doc_id: str) -> str:
    """The path (without suffix) a doc id was made from: the inverse of escape_doc_id."""
    return unquote(doc_id)


def uri_path(path: str) -> str:
    """A file path percent-encoded as a URI path: `c#-guide.md` -> `c%23-guide.md`."""
    return quote(path, safe=_URI_PATH_SAFE)


def doc_uri(doc_id: str) -> str:
    """The resource URI of a doc: `docs://` and its path, percent-encoded as a URI path."""
    return RESOURCE_SCHEME + uri_path(unescape_doc_id(doc_id))


def doc_id_from_uri_value(value: str) -> str:
    """The doc id from the value the SDK extracted (and decoded) from `docs://{+id}`."""
    return escape_doc_id(value)
