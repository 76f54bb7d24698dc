"""Source records: where in the kernel a modelled behaviour was read.

Every hook and every step of a model carries one of these, so that the tool can
print its citations (``kvmspte arches``, ``explain``, ``docs``) instead of
keeping them only in comments.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The release every model is pinned to unless it says otherwise.
DEFAULT_RELEASE = "v6.9"


@dataclass(frozen=True, slots=True)
class Source:
    """A place in the kernel tree: file, function and the release it was read at."""

    file: str
    function: str
    release: str = DEFAULT_RELEASE
    #: Where the copy that was read came from when it was not the tag itself
    #: (e.g. a mailing-list diff of known date), or any caveat.
    via: str = ""

    def __str__(self) -> str:
        return cite(self)

    def to_dict(self) -> dict[str, str]:
        out = {"file": self.file, "function": self.function, "release": self.release}
        if self.via:
            out["via"] = self.via
        return out


def cite(src, *, markdown: bool = False) -> str:
    """The one citation formatter: ``file:function @ release`` for a Source or its dict
    ('' for none); in Markdown ```file`: `function` @ release (via)``."""
    if not src:
        return ""
    get = src.get if isinstance(src, dict) else lambda k, d="": getattr(src, k, d)
    if not markdown:
        return f"{get('file')}:{get('function')} @ {get('release')}"
    via = f" ({get('via', '')})" if get("via", "") else ""
    return f"`{get('file')}`: `{get('function')}` @ {get('release')}{via}"


def kconfig_readonly_mem(arch_dir: str) -> Source:
    """Where an architecture selects HAVE_KVM_READONLY_MEM (read-only memslots)."""
    return Source(f"arch/{arch_dir}/kvm/Kconfig", "config KVM: select HAVE_KVM_READONLY_MEM",
                  via="added by 8886640dade4 'kvm: replace __KVM_HAVE_READONLY_MEM with Kconfig "
                      "symbol', merged for v6.9 (arm64, loongarch, mips, riscv, x86; not powerpc)")
