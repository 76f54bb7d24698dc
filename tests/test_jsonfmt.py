"""The one JSON writer writes exactly what json.dumps writes."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from kvmspte.formats.jsonfmt import dumps

SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text()
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) |
                      st.dictionaries(st.text(max_size=5), inner, max_size=4) |
                      st.tuples(inner, inner), max_leaves=30)


@settings(max_examples=300)
@given(VALUES, st.booleans())
def test_indented_writer_is_json_dumps(value, ascii_only):
    assert dumps(value, ascii_only=ascii_only) == json.dumps(value, indent=2,
                                                             ensure_ascii=ascii_only)


def test_non_string_keys_and_compact_go_to_json():
    assert dumps({1: [True, None]}) == json.dumps({1: [True, None]}, indent=2)
    assert dumps({"a": "é"}, indent=None, ascii_only=False) == '{"a": "é"}'
