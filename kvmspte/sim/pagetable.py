"""One radix page-table mechanism for every architecture that uses one.

x86 TDP, arm64 stage-2, RISC-V G-stage, MIPS GPA tables, PowerPC radix and
LoongArch are all trees of table pages with leaf entries.  This module models
that once: geometry (levels, index bits), table pages, leaf entries, allocation
from a memory cache (or failure without one), optional reference counting of
table pages, and snapshots.  *When* a table page is freed and *what* a leaf
looks like is each architecture's policy; the models state it and call the
primitives here.

Depth counts up from the last level: depth 0 entries map single 4 KiB pages,
depth 1 entries map 2 MiB, depth 2 entries 1 GiB.  Each architecture names its
levels in its own terms (``Geometry.names``).
"""

from __future__ import annotations

from kvmspte.records import record, field
from collections.abc import Iterator

PAGE_SHIFT = 12
SIZE_LABELS = ("4K", "2M", "1G", "512G", "256T")

#: When an unmap may give a table page back (each arch states one):
FREE_NEVER = "never"              # unmap clears leaves only; table pages stay linked
FREE_WHOLE_SPAN = "whole-span"    # a table is freed when the unmap covered all of its span
FREE_UNREFERENCED = "unreferenced"  # freed when its reference count is back to 1 (no entries)
FREE_POLICIES = {
    FREE_NEVER: "unmap never frees a table page; tables stay linked once allocated",
    FREE_WHOLE_SPAN: "unmap frees a table page only when the range covered its whole span",
    FREE_UNREFERENCED: "unmap frees a table page once no entry references it (refcount 1), "
                       "even when the range covered it only partly",
}


@record(frozen=True, slots=True)
class Leaf:
    """A leaf entry in normalised form plus the arch-native bits it also carries."""

    pfn: int
    read: bool
    write: bool
    exec: bool
    dirty: bool | None = None    # None: the arch's entry has no such bit
    young: bool | None = None
    native: tuple[str, ...] = ()  # other bits, by their kernel names, sorted

    @property
    def perms(self) -> str:
        return "".join(c if on else "-" for c, on in zip("rwx", (self.read, self.write, self.exec)))

    def to_dict(self) -> dict:
        out: dict = {"pfn": hex(self.pfn), "perms": self.perms}
        if self.dirty is not None:
            out["dirty"] = self.dirty
        if self.young is not None:
            out["young"] = self.young
        if self.native:
            out["bits"] = list(self.native)
        return out


@record(frozen=True, slots=True)
class Geometry:
    levels: int
    names: tuple[str, ...]   # native name of each depth, index 0 = last level
    bits: int = 9
    root_bits: int | None = None   # a root with more (or fewer) entries, e.g. MIPS's pgd

    @property
    def root_depth(self) -> int:
        return self.levels - 1

    def span(self, depth: int) -> int:
        """Pages mapped by one entry at ``depth``."""
        return 1 << (self.bits * depth)

    def ptrs(self, depth: int) -> int:
        """Entries in a table page at ``depth``."""
        if depth == self.root_depth and self.root_bits is not None:
            return 1 << self.root_bits
        return 1 << self.bits

    def index(self, gfn: int, depth: int) -> int:
        return (gfn >> (self.bits * depth)) & (self.ptrs(depth) - 1)

    def size(self, depth: int) -> str:
        return SIZE_LABELS[depth]


@record(eq=False)
class TablePage:
    id: int
    depth: int          # depth of the entries this page holds
    base_gfn: int
    entries: dict[int, "Entry"] = field(default_factory=dict)
    refcount: int = 1   # meaningful only where the arch counts (RadixTable.counted)


Entry = Leaf | TablePage


class MemoryCache:
    """kvm_mmu_memory_cache: table pages topped up before taking mmu_lock."""

    def __init__(self, pages: int) -> None:
        self.pages = pages

    def take(self) -> bool:
        if self.pages <= 0:
            return False
        self.pages -= 1
        return True


@record(frozen=True, slots=True)
class Install:
    """The outcome of RadixTable.install."""

    status: str            # "installed", "nomem" (no table and no cache), "blocked" (leaf above)
    depth: int             # where the walk stopped
    blocker: Leaf | None = None
    allocated: int = 0


class RadixTable:
    """A radix tree of table pages, with or without table-page reference counts.

    ``counted`` follows the arm64 rule set: a table page starts with one
    reference and every non-empty entry in it holds one more.  Other
    architectures do not count and free table pages on their own terms.
    """

    def __init__(self, geometry: Geometry, *, counted: bool = False,
                 free_policy: str = FREE_NEVER) -> None:
        if free_policy not in FREE_POLICIES:
            raise ValueError(f"unknown free policy {free_policy!r}")
        if free_policy == FREE_UNREFERENCED and not counted:
            raise ValueError("the unreferenced policy needs counted table pages")
        self.g = geometry
        self.counted = counted
        self.free_policy = free_policy
        self._next_id = 0
        self.pages: dict[int, TablePage] = {}
        self.root = self._new_page(geometry.root_depth, 0)

    # -- table pages -------------------------------------------------------
    def _new_page(self, depth: int, base_gfn: int) -> TablePage:
        page = TablePage(self._next_id, depth, base_gfn)
        self._next_id += 1
        self.pages[page.id] = page
        return page

    def child_gfn(self, table: TablePage, idx: int) -> int:
        return table.base_gfn + idx * self.g.span(table.depth)

    def alloc_child(self, parent: TablePage, idx: int,
                    cache: MemoryCache | None) -> TablePage | None:
        """Allocate a table page for an empty entry; None when there is no cache page."""
        if cache is None or not cache.take():
            return None
        child = self._new_page(parent.depth - 1, self.child_gfn(parent, idx))
        self.set_entry(parent, idx, child)
        return child

    def free_page(self, table: TablePage) -> None:
        """Return a table page to the allocator; its parent entry must already be clear."""
        del self.pages[table.id]

    def free_subtree(self, table: TablePage) -> int:
        """Free an unlinked table page and every table below it; returns pages freed."""
        freed = sum(self.free_subtree(e) for e in list(table.entries.values())
                    if isinstance(e, TablePage))
        self.free_page(table)
        return freed + 1

    def may_free(self, table: TablePage, covered_whole: bool) -> bool:
        """The arch's freeing policy applied to a table an unmap has just walked."""
        if self.free_policy == FREE_WHOLE_SPAN:
            return covered_whole
        if self.free_policy == FREE_UNREFERENCED:
            return table.refcount == 1
        return False

    # -- entries -----------------------------------------------------------
    def set_entry(self, table: TablePage, idx: int, value: Entry) -> None:
        if self.counted and idx not in table.entries:
            table.refcount += 1
        table.entries[idx] = value

    def clear_entry(self, table: TablePage, idx: int) -> Entry | None:
        old = table.entries.pop(idx, None)
        if self.counted and old is not None:
            table.refcount -= 1
        return old

    def entries_in(self, table: TablePage, start: int,
                   end: int) -> Iterator[tuple[int, int, Entry]]:
        """(index, first gfn, entry) of the present entries overlapping [start, end)."""
        span = self.g.span(table.depth)
        for idx in sorted(table.entries):
            gfn = self.child_gfn(table, idx)
            if gfn < end and gfn + span > start:
                yield idx, gfn, table.entries[idx]

    # -- walks ---------------------------------------------------------------
    def walk(self, gfn: int) -> list[tuple[TablePage, int, Entry | None]]:
        """Root-to-leaf path for ``gfn``: each table, the index used, and what it held."""
        path = []
        table = self.root
        while True:
            idx = self.g.index(gfn, table.depth)
            entry = table.entries.get(idx)
            path.append((table, idx, entry))
            if not isinstance(entry, TablePage):
                return path
            table = entry

    def lookup(self, gfn: int) -> tuple[Leaf, int] | None:
        table, _, entry = self.walk(gfn)[-1]
        return (entry, table.depth) if isinstance(entry, Leaf) else None

    def install(self, gfn: int, depth: int, leaf: Leaf, cache: MemoryCache | None) -> Install:
        """Walk to ``depth`` allocating missing tables from ``cache``, then set the leaf.

        Stops with "nomem" where a table is missing and the cache is empty or
        absent, and with "blocked" where a leaf sits above ``depth``; what an
        architecture does in those cases is its own policy.
        """
        table, allocated = self.root, 0
        while table.depth > depth:
            idx = self.g.index(gfn, table.depth)
            entry = table.entries.get(idx)
            if isinstance(entry, Leaf):
                return Install("blocked", table.depth, entry, allocated)
            if entry is None:
                entry = self.alloc_child(table, idx, cache)
                if entry is None:
                    return Install("nomem", table.depth, None, allocated)
                allocated += 1
            table = entry
        self.set_entry(table, self.g.index(gfn, depth), leaf)
        return Install("installed", depth, None, allocated)

    # -- views ---------------------------------------------------------------
    def snapshot(self) -> dict[str, dict]:
        """Every table page and leaf, keyed by what it maps, in a stable order."""
        out: dict[str, dict] = {}
        self._snap(self.root, out)
        return dict(sorted(out.items()))

    def _snap(self, table: TablePage, out: dict[str, dict]) -> None:
        info: dict = {"level": self.g.names[table.depth]}
        if self.counted:
            info["refcount"] = table.refcount
        out[f"table {self.g.names[table.depth]} @gfn {table.base_gfn:#x}"] = info
        for idx, entry in sorted(table.entries.items()):
            if isinstance(entry, TablePage):
                self._snap(entry, out)
            else:
                gfn = self.child_gfn(table, idx)
                key = f"leaf {self.g.size(table.depth)} @gfn {gfn:#x}"
                out[key] = {"level": self.g.names[table.depth], **entry.to_dict()}

    def path_view(self, gfn: int) -> list[dict]:
        """The walk for ``gfn`` as plain data, for explain."""
        rows = []
        for table, idx, entry in self.walk(gfn):
            row = {"table": f"{self.g.names[table.depth]}#{table.id}", "index": idx}
            if self.counted:
                row["refcount"] = table.refcount
            if isinstance(entry, Leaf):
                row["leaf"] = {"size": self.g.size(table.depth), **entry.to_dict()}
            elif entry is None:
                row["empty"] = True
            rows.append(row)
        return rows
