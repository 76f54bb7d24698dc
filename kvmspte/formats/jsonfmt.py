"""JSON: the one writer of every JSON document (deterministic, no colour, schema_version
first), and the json format of each command."""

from __future__ import annotations



def dumps(value, *, indent: int | None = 2, ascii_only: bool = True) -> str:
    """The package's only call of json.dumps."""
    import json

    return json.dumps(value, indent=indent, ensure_ascii=ascii_only)


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
