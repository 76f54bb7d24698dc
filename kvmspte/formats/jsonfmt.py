"""JSON: the one writer of every JSON document (deterministic, no colour, schema_version
first), and the json format of each command."""

from __future__ import annotations



def dumps(value, *, indent: int | None = 2, ascii_only: bool = True) -> str:
    """The package's only call of json.dumps.  An indented document of plain JSON data is
    written by _indented, byte for byte what json.dumps writes (json's indenting encoder is
    pure Python and the slowest step of ``compare --format json``)."""
    import json

    if indent == 2:
        try:
            return _indented(value, ascii_only)
        except _Unusual:
            pass
    return json.dumps(value, indent=indent, ensure_ascii=ascii_only)


class _Unusual(Exception):
    """Data json.dumps handles in a way _indented does not copy (left to json.dumps)."""


def _indented(value, ascii_only: bool) -> str:
    from json.encoder import encode_basestring, encode_basestring_ascii

    esc = encode_basestring_ascii if ascii_only else encode_basestring
    out: list[str] = []
    _write(value, "", esc, out.append)
    return "".join(out)


def _write(v, pad: str, esc, put) -> None:
    if isinstance(v, str):
        put(esc(v))
    elif v is None or v is True or v is False:
        put("null" if v is None else "true" if v else "false")
    elif isinstance(v, int):
        put(int.__repr__(v))
    elif isinstance(v, float) and v == v and v not in (float("inf"), float("-inf")):
        put(float.__repr__(v))
    elif isinstance(v, dict):
        _items(v, pad, esc, put)
    elif isinstance(v, (list, tuple)):
        if not v:
            put("[]")
            return
        inner = pad + "  "
        for n, x in enumerate(v):
            put(("[\n" if n == 0 else ",\n") + inner)
            _write(x, inner, esc, put)
        put("\n" + pad + "]")
    else:
        raise _Unusual


def _items(v: dict, pad: str, esc, put) -> None:
    if not v:
        put("{}")
        return
    inner = pad + "  "
    for n, (k, x) in enumerate(v.items()):
        if not isinstance(k, str):
            raise _Unusual
        put(("{\n" if n == 0 else ",\n") + inner + esc(k) + ": ")
        _write(x, inner, esc, put)
    put("\n" + pad + "}")


def document(doc: dict, *, ascii_only: bool = True) -> str:
    """A whole JSON document, as printed: indented, ending in a newline."""
    return dumps(doc, ascii_only=ascii_only) + "\n"


class Json:
    """The json format of one command: ``to_doc`` turns its data into the document."""

    def __init__(self, to_doc, *, ascii_only: bool = True) -> None:
        self.to_doc, self.ascii_only = to_doc, ascii_only

    def render(self, data, *, color: bool = False, width: int | None = None) -> str:
        return document(self.to_doc(data), ascii_only=self.ascii_only)


def _as_dict(data) -> dict:
    return data if isinstance(data, dict) else data.to_dict()


#: compare and check: the report keeps non-ASCII text as it is
REPORT = Json(_as_dict, ascii_only=False)
#: matrix, explain, schema, and any data that is already a document or has to_dict()
DOCUMENT = Json(_as_dict)
