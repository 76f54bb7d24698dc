"""The mm side (the "mm" actor: the triggers' callers in mm/, kernel/events/ and
include/linux/mmu_notifier.h) is cited per era (kvmspte.sim.mmeras), by the engine's runs and
the explorer alike: at the long-term releases the copy of that release that was read, at
every release a file and function that exist there."""

from __future__ import annotations

import pytest

from kvmspte.analyses.explore import actors
from kvmspte.plugins import registry
from kvmspte.scenarios.loader import catalogue
from kvmspte.sim import mmeras, triggers
from kvmspte.sim.engine import run
from kvmspte.sim.release import Release
from tests.test_vcpu_citations import releases

LTS = [Release(5, 15), Release(6, 1), Release(6, 6)]
MM = ("mm/", "kernel/events/", "include/linux/mmu_notifier.h")
#: (file or function, first release it exists in)
BORN = {"mm/migrate_device.c": Release(5, 18), "wp_page_copy": Release(4, 1),
        "__split_huge_pmd": Release(4, 5)}
#: the trigger sources a run cites (the v6.9 citations of the brief)
TRIGGER_SOURCES = [triggers.SRC_KSM_WP, triggers.SRC_KSM_REPLACE, triggers.SRC_KSM_COMPARE,
                   triggers.SRC_COW, triggers.SRC_WP_PAGE, triggers.SRC_SPLIT_PMD,
                   triggers.SRC_MIGRATE_INSERT, triggers.SRC_MIGRATE_PAGES,
                   triggers.SRC_UPROBE, triggers.SRC_NOTIFY]


def cited(res):
    return [s.source for s in res.trace if s.source] + [res.reason_source] * bool(res.reason_source)


def mm_side(src) -> bool:
    return src.file.startswith(MM)


@pytest.mark.parametrize("kernel", LTS, ids=str)
@pytest.mark.parametrize("arch", ["x86-tdp", "arm64", "mips"])
def test_long_term_runs_read_nothing_later(arch, kernel):
    model = registry.models()[arch]
    for sc in catalogue().values():
        assert run(sc, model, kernel=kernel).read_later() == [], sc.name


@pytest.mark.parametrize("kernel", [Release(4, 19), *LTS], ids=str)
def test_long_term_runs_read_no_mm_file_later(kernel):
    # every model: each mm-side citation is the copy of the run's series that was read
    for model in registry.models().values():
        for sc in catalogue().values():
            res = run(sc, model, kernel=kernel)
            assert not [s for s in res.read_later() if mm_side(s)], (model.id, sc.name)
            for s in filter(mm_side, cited(res)):
                if s.release == str(kernel) and not s.via.startswith("what-if"):
                    assert "read in " in s.via and "commit " in s.via, (model.id, s)


def _born_later(src, kernel: Release) -> bool:
    return any(kernel < first for name, first in BORN.items()
               if name in (src.file, src.function))


@pytest.mark.parametrize("kernel", releases(), ids=str)
def test_no_mm_citation_names_code_that_does_not_exist_yet(kernel):
    for model in registry.models().values():
        for sc in catalogue().values():
            res = run(sc, model, kernel=kernel)
            if res.verdict == "absent":
                continue
            bad = [(s.file, s.function) for s in cited(res)
                   if mm_side(s) and _born_later(s, kernel)]
            assert not bad, (model.id, sc.name, bad)


def test_every_trigger_source_has_a_read_copy_at_each_long_term_release():
    for src in TRIGGER_SOURCES:
        for kernel in LTS:
            got = mmeras.cite(src, kernel)
            assert got.release == str(kernel) and got.function == src.function, (src, kernel)
            assert "read in " in got.via and "NOT" not in got.via.upper().split(":")[0]
    # at v6.9 the citation is the v6.9 one itself
    assert all(mmeras.cite(src, Release(6, 9)) is src for src in TRIGGER_SOURCES)


def test_era_rows_never_cite_a_release_after_their_first():
    for table in (mmeras.ERAS, actors.MM_ERAS):
        for src, rows in table.items():
            for first, era in rows:
                assert Release.parse(era.release) <= first, (src.function, era)


@pytest.mark.parametrize("kernel, file, function", [
    (Release(3, 6), "mm/memory.c", "do_wp_page"),
    (Release(4, 0), "mm/memory.c", "do_wp_page"),
    (Release(4, 1), "mm/memory.c", "wp_page_copy"),
    (Release(5, 15), "mm/memory.c", "wp_page_copy"),
])
def test_the_cow_caller_is_named_as_in_its_era(kernel, file, function):
    got = mmeras.cite(triggers.SRC_COW, kernel)
    assert (got.file, got.function) == (file, function)
    assert ("not re-read" in got.via) == (kernel < Release(5, 15))


@pytest.mark.parametrize("kernel, file", [
    (Release(4, 14), "mm/migrate.c"), (Release(5, 15), "mm/migrate.c"),
    (Release(5, 17), "mm/migrate.c"), (Release(5, 18), "mm/migrate_device.c"),
    (Release(6, 1), "mm/migrate_device.c"), (Release(6, 6), "mm/migrate_device.c"),
])
def test_device_migration_is_cited_in_the_file_of_its_era(kernel, file):
    for src in (triggers.SRC_MIGRATE_INSERT, triggers.SRC_MIGRATE_PAGES):
        assert mmeras.cite(src, kernel).file == file


@pytest.mark.parametrize("kernel, function", [
    (Release(3, 0), "__split_huge_page_pmd"), (Release(4, 4), "__split_huge_page_pmd"),
    (Release(4, 5), "__split_huge_pmd"), (Release(6, 6), "__split_huge_pmd"),
])
def test_the_pmd_split_keeps_its_callers_path_and_is_named_as_in_its_era(kernel, function):
    res = run(catalogue()["cow-huge"], registry.models()["x86-shadow"], kernel=kernel)
    split = [s.source for s in res.trace if s.source and "huge_memory.c" in s.source.file
             and "split" in s.source.function]
    assert split and all(s.function == function for s in split)
    assert all(triggers.TRIGGERS["cow"].split_via in s.via for s in split)


def test_the_explorer_extends_the_shared_table():
    for src, rows in mmeras.ERAS.items():
        assert actors.MM_ERAS[src] == rows
    # the writer's own wp_page_copy and write_protect_page steps share those functions' rows
    assert actors.MM_ERAS[actors.SRC_PTL] == mmeras.ERAS[triggers.SRC_COW]
    assert actors.MM_ERAS[actors.SRC_KSM_WP] == mmeras.ERAS[triggers.SRC_KSM_WP]


def test_4_19_cites_its_copy_except_where_not_read():
    # 0x88888888/Linux-4.19's first commit (Makefile 4.19.0); KSM's comparisons not re-read
    for src in TRIGGER_SOURCES:
        got = mmeras.cite(src, Release(4, 19))
        if src is triggers.SRC_KSM_COMPARE:
            assert "not re-read" in got.via and got.release == "v2.6.32"
        else:
            assert got.release == "v4.19" and "Linux-4.19 commit 74e90c5be722" in got.via, src
    assert mmeras.cite(triggers.SRC_MIGRATE_INSERT, Release(4, 19)).file == "mm/migrate.c"
