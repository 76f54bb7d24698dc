"""Record classes: the subset of dataclasses this package uses, built with one small exec per
class (its __init__).  Importing dataclasses and generating its methods cost ~25 ms, half of
the run of ``compare``.

``@record`` / ``@record(frozen=True, slots=True, eq=False)`` give a class ``__init__`` (fields in
annotation order, defaults and ``field(default_factory=...)``), ``__repr__``, ``__eq__`` and, as
dataclasses does, ``__hash__`` when frozen and unhashable when only eq; ``frozen`` refuses
assignment with FrozenInstanceError; ``slots`` rebuilds the class with ``__slots__`` (and a
frozen one keeps its hash once computed, and pickles its fields through
``__getstate__``/``__setstate__``).
``replace(obj, **changes)`` reads the fields a record keeps in ``__record_fields__``.  Methods a class body defines itself are never replaced.
"""

from __future__ import annotations

from operator import attrgetter

MISSING = object()


class FrozenInstanceError(AttributeError):
    """Assignment to a field of a frozen record."""


class Field:
    __slots__ = ("name", "default", "default_factory", "repr", "compare")

    def __init__(self, default=MISSING, default_factory=MISSING, repr=True, compare=True):
        self.name, self.default, self.default_factory = "", default, default_factory
        self.repr, self.compare = repr, compare


def field(*, default=MISSING, default_factory=MISSING, repr: bool = True,
          compare: bool = True) -> Field:
    return Field(default, default_factory, repr, compare)


def record(cls=None, /, *, frozen: bool = False, slots: bool = False, eq: bool = True):
    def wrap(c: type) -> type:
        return _build(c, frozen, slots, eq)

    return wrap if cls is None else wrap(cls)


def replace(obj, **changes):
    """A copy of obj with the given fields changed (an unknown name is a TypeError)."""
    values = {name: getattr(obj, name) for name in obj.__record_fields__}
    values.update(changes)
    return obj.__class__(**values)


def _collect(cls: type) -> dict[str, Field]:
    out: dict[str, Field] = {}
    for name, note in cls.__dict__.get("__annotations__", {}).items():
        if str(note).startswith(("ClassVar", "typing.ClassVar")):
            continue
        value = cls.__dict__.get(name, MISSING)
        spec = value if isinstance(value, Field) else Field(default=value)
        spec.name = name
        out[name] = spec
    return out


def _init_source(specs: dict[str, Field], frozen: bool) -> str:
    """A factory that returns __init__ for these fields (the one generated function)."""
    params, body = ["self"], []
    for n, f in specs.items():
        if f.default_factory is not MISSING:
            params.append(f"{n}=_MISSING")
            value = f"_f_{n}() if {n} is _MISSING else {n}"
        else:
            params.append(n if f.default is MISSING else f"{n}=_d_{n}")
            value = n
        body.append(f"_set(self, {n!r}, {value})" if frozen else f"self.{n} = {value}")
    return "\n".join([
        "def __create__(_MISSING, _set, " + "".join(f"_d_{n}, _f_{n}, " for n in specs) + "):",
        f" def __init__({', '.join(params)}):",
        *(f"  {line}" for line in body or ["pass"]),
        " return __init__",
    ])


def _compared(specs: dict[str, Field]):
    """The tuple of compared field values of a record (what eq and hash use)."""
    names = [n for n, f in specs.items() if f.compare]
    if len(names) == 1:
        only = names[0]
        return lambda self: (getattr(self, only),)
    return attrgetter(*names) if names else (lambda self: ())


def _eq_hash(key):
    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return key(self) == key(other)

    def __hash__(self):
        return hash(key(self))

    return __eq__, __hash__


def _cached_hash(key):
    """__hash__ of a frozen slotted record: computed once, kept in its HASH_SLOT (the
    explorer hashes the same host PTEs in every state it visits)."""
    def __hash__(self):
        try:
            return self._record_hash
        except AttributeError:
            value = hash(key(self))
            object.__setattr__(self, HASH_SLOT, value)
            return value

    return __hash__


#: the slot a frozen slotted record keeps its hash in (never pickled: _getstate)
HASH_SLOT = "_record_hash"


def _repr(shown: list[str]):
    def __repr__(self):
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in shown)
        return f"{self.__class__.__qualname__}({inner})"

    return __repr__


def _frozen_setattr(self, name, value):
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self, name):
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _getstate(self):
    return [getattr(self, name) for name in self.__record_fields__]


def _setstate(self, state):
    for name, value in zip(self.__record_fields__, state):
        object.__setattr__(self, name, value)  # frozen records are unpickled too


def _methods(cls: type, specs: dict[str, Field], frozen: bool, slots: bool,
             eq: bool) -> dict:
    scope: dict = {}
    exec(_init_source(specs, frozen), scope)  # noqa: S102 - built from the field names
    args = [a for f in specs.values() for a in (f.default, f.default_factory)]
    init = scope["__create__"](MISSING, object.__setattr__, *args)
    rep = _repr([n for n, f in specs.items() if f.repr])
    equal, hashed = _eq_hash(_compared(specs))
    if frozen and slots:
        hashed = _cached_hash(_compared(specs))
    made = {"__init__": init, "__repr__": rep, "__match_args__": tuple(specs),
            "__record_fields__": specs}
    if eq:
        made["__eq__"] = equal
        made["__hash__"] = hashed if frozen else None
    if frozen:
        made["__setattr__"], made["__delattr__"] = _frozen_setattr, _frozen_delattr
    if frozen and slots:
        made["__getstate__"], made["__setstate__"] = _getstate, _setstate
    for name, fn in made.items():
        if callable(fn) and hasattr(fn, "__qualname__"):
            fn.__qualname__ = f"{cls.__qualname__}.{name}"
    return {k: v for k, v in made.items() if k not in cls.__dict__ or k == "__hash__"
            and "__eq__" not in cls.__dict__}


def _build(cls: type, frozen: bool, slots: bool, eq: bool) -> type:
    specs = _collect(cls)
    made = _methods(cls, specs, frozen, slots, eq)
    if slots:
        body = {k: v for k, v in cls.__dict__.items()
                if k not in specs and k not in ("__dict__", "__weakref__")}
        body.update(made, __slots__=tuple(specs) + ((HASH_SLOT,) if frozen else ()))
        new = type(cls)(cls.__name__, cls.__bases__, body)
        new.__qualname__ = cls.__qualname__
        return new
    for name, spec in specs.items():
        if isinstance(cls.__dict__.get(name), Field):
            if spec.default is MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, spec.default)
    for name, value in made.items():
        setattr(cls, name, value)
    return cls
