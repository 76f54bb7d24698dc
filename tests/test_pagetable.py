"""The shared radix mechanism (kvmspte.pagetable) in isolation."""

from kvmspte.sim.pagetable import Geometry, Leaf, MemoryCache, RadixTable

G = Geometry(levels=3, names=("L3", "L2", "L1"))
LEAF = Leaf(pfn=0x1234, read=True, write=False, exec=False)


def test_install_allocates_from_cache_and_counts_pages():
    pt = RadixTable(G)
    got = pt.install(0x100210, 0, LEAF, MemoryCache(5))
    assert got.status == "installed" and got.allocated == 2
    assert pt.lookup(0x100210) == (LEAF, 0)
    assert len(pt.pages) == 3  # root + two tables


def test_install_without_cache_fails_only_where_a_table_is_missing():
    pt = RadixTable(G)
    pt.install(0x100211, 0, LEAF, MemoryCache(5))
    assert pt.install(0x100210, 0, LEAF, None).status == "installed"   # same last-level table
    missing = pt.install(0x100410, 0, LEAF, None)   # next 2 MiB: no last-level table
    assert (missing.status, missing.depth) == ("nomem", 1)
    assert pt.lookup(0x100410) is None


def test_install_stops_at_a_leaf_above_the_target():
    pt = RadixTable(G)
    pt.install(0x100200, 1, LEAF, MemoryCache(5))
    got = pt.install(0x100210, 0, LEAF, None)
    assert got.status == "blocked" and got.blocker == LEAF and got.depth == 1


def test_counted_tables_hold_one_reference_plus_one_per_entry():
    pt = RadixTable(G, counted=True)
    pt.install(0x100210, 0, LEAF, MemoryCache(5))
    pt.install(0x100211, 0, LEAF, MemoryCache(5))
    last = pt.walk(0x100210)[-1][0]
    assert last.refcount == 3
    pt.clear_entry(last, G.index(0x100210, 0))
    assert last.refcount == 2


def test_snapshot_is_stable_and_keyed_by_what_is_mapped():
    pt = RadixTable(G)
    pt.install(0x100210, 0, LEAF, MemoryCache(5))
    snap = pt.snapshot()
    assert "leaf 4K @gfn 0x100210" in snap
    assert snap["leaf 4K @gfn 0x100210"]["pfn"] == "0x1234"
    assert list(snap) == sorted(snap)


def test_free_policies():
    from kvmspte.sim.pagetable import FREE_NEVER, FREE_UNREFERENCED, FREE_WHOLE_SPAN

    never = RadixTable(G, free_policy=FREE_NEVER)
    span = RadixTable(G, free_policy=FREE_WHOLE_SPAN)
    refs = RadixTable(G, counted=True, free_policy=FREE_UNREFERENCED)
    for pt in (never, span, refs):
        pt.install(0x100210, 0, LEAF, MemoryCache(5))
        last = pt.walk(0x100210)[-1][0]
        pt.clear_entry(last, G.index(0x100210, 0))
    assert never.may_free(never.walk(0x100210)[-1][0], covered_whole=True) is False
    assert span.may_free(span.walk(0x100210)[-1][0], covered_whole=False) is False
    assert span.may_free(span.walk(0x100210)[-1][0], covered_whole=True) is True
    # refcount back to 1 frees even a partly covered table (arm64's TABLE_POST rule)
    assert refs.may_free(refs.walk(0x100210)[-1][0], covered_whole=False) is True


def test_free_subtree_counts_pages():
    pt = RadixTable(G)
    pt.install(0x100210, 0, LEAF, MemoryCache(5))
    mid = pt.root.entries[G.index(0x100210, 2)]
    pt.clear_entry(pt.root, G.index(0x100210, 2))
    assert pt.free_subtree(mid) == 2 and len(pt.pages) == 1
