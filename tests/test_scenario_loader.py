"""Scenario files: validation (pydantic, schema version 1) and its one-line errors."""

import tomllib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kvmspte.scenarios.loader import ScenarioError, builtin_documents, load_file, resolve
from kvmspte.scenarios.schema import validate

GOOD = """
name = "mine"
trigger = "cow"
[guest]
state = "unmapped"
neighbours = false
[expect]
x86-tdp = "no-op"
"""


def write(tmp_path, text, name="s.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_builtin_catalogue_validates_with_pydantic():
    for fname, doc in builtin_documents():
        validate(doc, fname)


def test_builtin_catalogue_covers_every_trigger_state_neighbour_and_flag():
    docs = [d for _, d in builtin_documents()]
    assert {d["trigger"] for d in docs} == {"ksm-write-protect", "ksm-replace-page", "cow",
                                             "uprobe", "migrate-device-zero"}
    assert {d["guest"]["state"] for d in docs} == {"mapped-4k", "mapped-huge", "unmapped"}
    assert {d["guest"]["neighbours"] for d in docs} == {True, False}
    for flag in ("dirty_logging", "readonly", "invalid"):
        assert any(d["memslot"][flag] for d in docs), flag
    assert any(d["options"]["mte"] for d in docs)
    assert any(not d["wrapped"] for d in docs)


def test_good_file_loads_with_defaults(tmp_path):
    sc = load_file(write(tmp_path, GOOD))
    assert (sc.name, sc.trigger, sc.state, sc.neighbours, sc.wrapped) == \
        ("mine", "cow", "unmapped", False, True)
    assert sc.expect == {"x86-tdp": "no-op"}


@pytest.mark.parametrize("text, needle", [
    ('name = "x"\ntrigger = "cow"\nbogus = 1\n', "unknown field 'bogus'"),
    ('name = "x"\n', "field 'trigger' is required"),
    ('name = "x"\ntrigger = "cow"\n[guest]\nstate = "mapped"\n', "field 'guest.state'"),
    ('name = "x"\ntrigger = "cow"\nwrapped = "yes"\n', "field 'wrapped'"),
    ('name = "x"\ntrigger = "cow"\n[expect]\nx86-tdp = "maybe"\n', "field 'expect.x86-tdp'"),
    ('name = "x"\ntrigger = "cow"\n[expect]\nx86_tdp = "no-op"\n', "did you mean: x86-tdp"),
    ('name = "x"\ntrigger = "cow\n', "malformed TOML"),
])
def test_bad_files_give_one_line_naming_file_and_field(tmp_path, text, needle):
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as exc:
        load_file(path)
    msg = str(exc.value)
    assert needle in msg and str(path) in msg and "\n" not in msg


def test_unknown_name_suggests_nearest():
    with pytest.raises(ScenarioError, match="did you mean: ksm-merge"):
        resolve("ksm-merg")


# -- property-based: random documents either load or fail with the clean error ---------
scalars = st.one_of(st.booleans(), st.integers(), st.text(max_size=12),
                    st.sampled_from(["cow", "mapped-4k", "no-op", "x86-tdp", "uprobe"]))
keys = st.sampled_from(["name", "trigger", "wrapped", "guest", "memslot", "options", "expect",
                        "state", "neighbours", "dirty_logging", "mte", "description",
                        "schema_version", "x86-tdp", "zzz"])
documents = st.recursive(scalars, lambda inner: st.dictionaries(keys, inner, max_size=6),
                         max_leaves=12).filter(lambda d: isinstance(d, dict))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_random_documents_load_or_fail_cleanly(doc):
    try:
        out = validate(doc, "rand.toml")
    except ScenarioError as exc:
        msg = str(exc)
        assert msg.startswith("rand.toml: ") and "\n" not in msg
    else:
        assert out["trigger"] in {"ksm-write-protect", "ksm-replace-page", "cow", "uprobe",
                                  "migrate-device-zero"}


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_random_text_files_load_or_fail_cleanly(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("h") / "r.toml"
    path.write_text(text, encoding="utf-8")
    try:
        load_file(path)
    except ScenarioError as exc:
        assert str(exc).startswith(str(path)) and "\n" not in str(exc)


def test_toml_round_trip_of_catalogue_documents():
    for fname, doc in builtin_documents():
        assert tomllib.loads(open(_path(fname)).read()) == doc


def _path(fname):
    from importlib import resources

    return str(resources.files("kvmspte.scenarios") / fname)


def test_expect_at_tables_by_release(tmp_path):
    """[expect_at."X.Y"] holds expectations at another release; a key that is not a release
    is one line, naming the field."""
    import pytest

    from kvmspte.sim.release import Release
    from kvmspte.scenarios.loader import ScenarioError, load_file

    good = tmp_path / "a.toml"
    good.write_text('name = "a"\ntrigger = "cow"\n[expect]\nx86-tdp = "no-op"\n'
                    '[expect_at."3.6"]\nx86-shadow = "changes"\nx86-tdp = "absent"\n')
    sc = load_file(good)
    assert sc.expectation("x86-tdp") == "no-op"
    assert sc.expectation("x86-tdp", Release(3, 6)) == "absent"
    assert sc.expectation("x86-shadow", Release(3, 7)) is None
    bad = tmp_path / "b.toml"
    bad.write_text('name = "b"\ntrigger = "cow"\n[expect_at.later]\nx86-tdp = "no-op"\n')
    with pytest.raises(ScenarioError, match="expect_at.later"):
        load_file(bad)


def test_catalogue_files_are_named_after_their_scenario():
    # resolve() finds a built-in by its file name (NN-NAME.toml) and parses only that file
    from kvmspte.scenarios import loader

    for fname, doc in builtin_documents():
        assert fname[:-5].partition("-")[2] == doc["name"], fname
        assert loader.builtin(doc["name"]).name == doc["name"]
    assert loader.builtin("no-such-scenario") is None
