"""Source records: where in the kernel a modelled behaviour was read.

Every hook and every step of a model carries one of these, so that the tool can
print its citations (``kvmspte arches``, ``explain``, ``docs``) instead of
keeping them only in comments.
"""

from __future__ import annotations

import re
from kvmspte.records import record

#: A public cross-referencer that serves every release's tree (file view and identifier search).
XREF = "https://elixir.bootlin.com/linux"
_TAG = re.compile(r"^v\d+\.\d+(?:\.\d+)?$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PATH = re.compile(r"^[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)+$")

#: The release every model is pinned to unless it says otherwise.
DEFAULT_RELEASE = "v6.9"


@record(frozen=True, slots=True)
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

    @property
    def url(self) -> str:
        """The file at its release on the cross-referencer, or "" where file or release is
        not a plain tree path and tag."""
        if not (_TAG.match(self.release) and _PATH.match(self.file)):
            return ""
        return f"{XREF}/{self.release}/source/{self.file}"

    @property
    def ident_url(self) -> str:
        """The identifier search for the function at its release, or ""."""
        if not (_TAG.match(self.release) and _IDENT.match(self.function)):
            return ""
        return f"{XREF}/{self.release}/A/ident/{self.function}"

    def to_dict(self) -> dict[str, str]:
        out = {"file": self.file, "function": self.function, "release": self.release}
        if self.via:
            out["via"] = self.via
        if self.url:
            out["url"] = self.url
        if self.ident_url:
            out["ident_url"] = self.ident_url
        return out


def cite(src, *, markdown: bool = False, via: bool = False) -> str:
    """The one citation formatter, for a Source or its dict ('' for none): plain
    ``file:function @ release``; in Markdown the file linked to its release on the
    cross-referencer and the function to its identifier search there (plain code where
    there is no link); with via, the note on the copy read follows in brackets."""
    if not src:
        return ""
    d = src if isinstance(src, dict) else src.to_dict()
    if markdown:
        def code(text: str, url: str | None) -> str:
            return f"[`{text}`]({url})" if url else f"`{text}`"

        out = f"{code(d['file'], d.get('url'))}:{code(d['function'], d.get('ident_url'))} " \
              f"@ {d['release']}"
    else:
        out = f"{d['file']}:{d['function']} @ {d['release']}"
    return out + (f" ({d['via']})" if via and d.get("via") else "")


def kconfig_readonly_mem(arch_dir: str) -> Source:
    """Where an architecture selects HAVE_KVM_READONLY_MEM (read-only memslots)."""
    return Source(f"arch/{arch_dir}/kvm/Kconfig", "config KVM: select HAVE_KVM_READONLY_MEM",
                  via="added by 8886640dade4 'kvm: replace __KVM_HAVE_READONLY_MEM with Kconfig "
                      "symbol', merged for v6.9 (arm64, loongarch, mips, riscv, x86; not powerpc)")
