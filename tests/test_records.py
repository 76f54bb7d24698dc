"""kvmspte.records: the dataclass subset the package uses, built without the dataclasses module
(whose import alone is a third of the start-up budget).  These are the semantics the models
and the explorer rely on: value equality and hashing as a tuple of the compared fields (so sets
of records iterate as they did), frozen records refusing assignment, replace(), pickling (the
explorer copies model snapshots with pickle), and a fresh default per instance."""

from __future__ import annotations

import pickle

import pytest

from kvmspte.records import HASH_SLOT, FrozenInstanceError, field, record, replace


@record(frozen=True, slots=True)
class Pte:
    pfn: int
    write: bool = False
    note: str = field(default="", compare=False, repr=False)


@record
class Bag:
    name: str
    items: list = field(default_factory=list)


@record(eq=False)
class Identity:
    n: int


def test_equality_and_hash_are_those_of_the_compared_field_tuple():
    a, b = Pte(1, True, note="x"), Pte(1, True, note="y")
    assert a == b and hash(a) == hash((1, True)) and a != Pte(1)
    assert Pte(1).__eq__((1, False)) is NotImplemented  # another class is never equal
    assert len({a, b, Pte(2)}) == 2


def test_frozen_refuses_assignment_and_slots_have_no_dict():
    p = Pte(3)
    with pytest.raises(FrozenInstanceError):
        p.pfn = 4
    with pytest.raises(AttributeError):
        del p.write
    assert not hasattr(p, "__dict__")
    assert Pte.__slots__ == ("pfn", "write", "note", HASH_SLOT)  # the hash, kept once computed


def test_replace_copies_with_changes_and_rejects_unknown_fields():
    p = replace(Pte(5, note="kept"), write=True)
    assert (p.pfn, p.write, p.note) == (5, True, "kept")
    with pytest.raises(TypeError):
        replace(p, colour="red")


def test_defaults_factories_and_repr():
    one, two = Bag("a"), Bag("b")
    one.items.append(1)
    assert two.items == [] and Bag("c", [2]).items == [2]
    assert repr(Pte(7, note="hidden")) == "Pte(pfn=7, write=False)"
    assert [f.name for f in Bag.__record_fields__.values()] == ["name", "items"]
    with pytest.raises(TypeError):
        Pte()  # a field without a default is required


def test_mutable_records_are_unhashable_and_eq_false_keeps_identity():
    with pytest.raises(TypeError):
        hash(Bag("a"))
    assert Identity(1) != Identity(1) and len({Identity(1), Identity(1)}) == 2


def test_frozen_slotted_records_pickle_round_trip():
    p = Pte(9, True, note="n")
    hash(p)  # the kept hash is not part of the pickled state (string hashes vary by process)
    state = p.__getstate__()
    assert state == [9, True, "n"]
    q = pickle.loads(pickle.dumps(p))
    assert q == p and q.note == "n" and hash(q) == hash(p) == hash((9, True))
