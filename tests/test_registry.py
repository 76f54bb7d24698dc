"""Plugins register through the kvmspte.arches.v1 entry-point group; a broken one is
skipped with a warning and never takes the tool down."""

import sys
import textwrap

import pytest

from kvmspte.plugins import registry


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    """A fake installed distribution whose entry points name plugin modules in tmp_path."""
    dist = tmp_path / "fake_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "entry_points.txt").write_text(textwrap.dedent("""
        [console_scripts]
        other = x:y

        [kvmspte.arches.v1]
        toy = toy_arch:Model
        broken = no_such_module:Model
        notamodel = toy_arch:helper
        wrongid = toy_arch:Other
    """))
    (tmp_path / "toy_arch.py").write_text(textwrap.dedent("""
        from kvmspte.arches.x86_tdp import Model as Tdp

        class Model(Tdp):
            id = "toy"

        class Other(Tdp):
            id = "not-wrongid"

        def helper():
            pass
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.reset()
    yield tmp_path
    registry.reset()
    sys.modules.pop("toy_arch", None)


def test_entry_points_are_read_from_dist_info(plugin_dir):
    targets = registry._plugin_targets()
    assert targets["toy"] == "toy_arch:Model" and "other" not in targets


def test_good_plugin_loads_and_bad_ones_warn(plugin_dir):
    with pytest.warns(registry.PluginWarning) as caught:
        found = registry.models()
    assert "toy" in found and "x86-tdp" in found
    assert not {"broken", "notamodel", "wrongid"} & set(found)
    text = " ".join(str(w.message) for w in caught)
    assert "'broken'" in text and "failed to load" in text
    assert "is not an ArchModel subclass" in text and "declares id" in text


def test_cli_survives_a_broken_plugin(plugin_dir, cli):
    r = cli("compare", "--arch", "toy")
    assert r.code == 0 and "\ntoy " in r.out
    assert "warning: architecture plugin 'broken'" in r.err


def test_registry_leaves_the_warning_hooks_alone(plugin_dir, cli):
    import warnings

    before = warnings.showwarning
    r = cli("compare", "--arch", "toy")
    assert "warning: architecture plugin 'broken'" in r.err
    assert warnings.showwarning is before
