"""What a scenario is: the Scenario record and the one description of a scenario file's
shape (LAYOUT), from which the loader, the pydantic model and the JSON Schema are built."""

from __future__ import annotations

from kvmspte.records import record, field

from kvmspte.errors import ScenarioError


@record(frozen=True)
class Scenario:
    name: str
    description: str
    trigger: str
    wrapped: bool = True
    state: str = "mapped-4k"
    neighbours: bool = True
    dirty_logging: bool = False
    readonly: bool = False
    invalid: bool = False
    mte: bool = False
    expect: dict[str, str] = field(default_factory=dict)
    origin: str = "built-in"
    #: expectations at other releases: "vX.Y" -> arch id -> verdict ([expect_at."X.Y"])
    expect_at: dict[str, dict[str, str]] = field(default_factory=dict)

    def expectation(self, arch_id: str, kernel=None) -> str | None:
        """The verdict expected of ``arch_id`` at ``kernel``: [expect] holds the default
        release's (v6.9), [expect_at."X.Y"] any other release's."""
        from kvmspte.sim.release import DEFAULT

        if kernel is None or kernel == DEFAULT:
            return self.expect.get(arch_id)
        return self.expect_at.get(str(kernel), {}).get(arch_id)

    def expectations(self, kernel=None) -> dict[str, str]:
        from kvmspte.sim.release import DEFAULT

        if kernel is None or kernel == DEFAULT:
            return self.expect
        return self.expect_at.get(str(kernel), {})

    def to_dict(self) -> dict:
        out: dict = {"name": self.name, "description": self.description,
                     "trigger": self.trigger}
        for attr, (table, _) in LAYOUT.items():
            (out.setdefault(table, {}) if table else out)[attr] = getattr(self, attr)
        return {
            **out,
            "expect": dict(sorted(self.expect.items())),
            **({"expect_at": {k: dict(sorted(v.items())) for k, v in self.expect_at.items()}}
               if self.expect_at else {}),
        }


#: The one description of a scenario file's settings: Scenario attribute -> (the TOML table
#: it sits in, None for the top level; what it means).  Defaults are Scenario's own; the
#: loader (from_document), Scenario.to_dict and the pydantic model and JSON Schema
#: (kvmspte.scenario_schema) are all built from this table.
LAYOUT: dict[str, tuple[str | None, str]] = {
    "wrapped": (None, "false replays the pre-3.7 ordering: change_pte with no surrounding "
                      "invalidation"),
    "state": ("guest", "the gfn's secondary mapping before the event"),
    "neighbours": ("guest", "another gfn in the same last-level table is mapped"),
    "dirty_logging": ("memslot", "KVM_MEM_LOG_DIRTY_PAGES"),
    "readonly": ("memslot", "KVM_MEM_READONLY"),
    "invalid": ("memslot", "KVM_MEMSLOT_INVALID: slot being deleted or moved"),
    "mte": ("options", "the VM has MTE (arm64 only): the guest's faults tag the pages they "
                       "map; other architectures ignore it"),
}
#: the TOML tables of LAYOUT, in file order
TABLES = tuple(dict.fromkeys(t for t, _ in LAYOUT.values() if t))


def default(attr: str):
    """Scenario's default for a LAYOUT attribute."""
    return Scenario.__record_fields__[attr].default


def from_document(doc: dict, origin: str) -> Scenario:
    """Build a Scenario from an already validated TOML document."""
    settings = {attr: (doc.get(table, {}) if table else doc).get(attr, default(attr))
                for attr, (table, _) in LAYOUT.items()}
    return Scenario(
        name=doc["name"], description=doc.get("description", ""), trigger=doc["trigger"],
        **settings, expect=dict(doc.get("expect", {})), origin=origin,
        expect_at=_expect_at(doc.get("expect_at") or {}, origin))


def _expect_at(tables: dict, origin: str) -> dict[str, dict[str, str]]:
    from kvmspte.sim.release import Release, ReleaseError

    out = {}
    for key, table in tables.items():
        try:
            out[str(Release.parse(key))] = dict(table)
        except ReleaseError as exc:
            raise ScenarioError(f"{origin}: field 'expect_at.{key[:40]}': {exc}") from None
    return out
