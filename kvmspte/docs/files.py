"""Writing generated pages into DIR: only inside DIR, never through a link, all or nothing.

- A page path must be a plain relative name (``index.md``, ``arches/ID.md``, ...); a
  symbolic link or a file where one of DIR's subfolders should be, or a folder where a
  page should be, is refused before anything is written.
- Every changed page is staged in ``DIR/.kvmspte-docs-*`` and then renamed into place,
  the manifest last.  A run killed part-way leaves that folder behind: the next run
  removes it (and repairs the pages), and ``--check`` reports it.
- The manifest (``.kvmspte-generated``) lists every page with the SHA-256 of what was
  written.  A page no longer generated is removed only when the manifest lists it under a
  well-formed name and it is still a regular file inside DIR with exactly that content;
  any other entry is ignored, never followed.
- Every OSError is a ``DocsError``: one line naming the path, exit status 2.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from kvmspte.errors import shown

MANIFEST = ".kvmspte-generated"
STAGING = ".kvmspte-docs-"
PAGE_NAME = re.compile(r"(?:(?:arches|scenarios)/)?[a-z0-9][a-z0-9._-]*\.md")
_ENTRY = re.compile(r"([0-9a-f]{64})  (\S+)")


class DocsError(Exception):
    """The docs cannot be read or written as asked: one line, exit status 2."""


def oserror(exc: OSError, path=None) -> DocsError:
    where = path if path is not None else exc.filename
    return DocsError(f"{shown(where, 120)}: {exc.strerror or exc}")


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def with_manifest(pages: dict[str, str]) -> dict[str, str]:
    """The pages plus the manifest naming each with the digest of its content."""
    for rel in pages:
        if not PAGE_NAME.fullmatch(rel):
            raise DocsError(f"cannot generate a page named '{shown(rel)}' (an architecture "
                            "or scenario name that is not a plain file name)")
    lines = [f"{digest(pages[rel])}  {rel}" for rel in sorted(pages)]
    return {**pages, MANIFEST: "\n".join(lines) + "\n"}


def read_text(path: Path, what: str) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except IsADirectoryError:
        raise DocsError(f"{what} {shown(path, 120)}: is a folder, not a file") from None
    except FileNotFoundError:
        raise DocsError(f"{what} {shown(path, 120)}: does not exist") from None
    except OSError as exc:
        raise oserror(exc, path) from None
    except UnicodeDecodeError as exc:
        raise DocsError(f"{what} {shown(path, 120)}: not UTF-8 text (byte {exc.start})") from None


def _check_route(out: Path, rel: str) -> Path:
    """out/rel, after making sure every folder on the way is a real folder inside out."""
    here = out
    for part in rel.split("/")[:-1]:
        here = here / part
        if here.is_symlink():
            raise DocsError(f"{shown(here, 120)}: is a symbolic link; kvmspte docs does not "
                            "follow links out of the output folder")
        if here.exists() and not here.is_dir():
            raise DocsError(f"{shown(here, 120)}: is not a folder")
    return out / rel


def _differs(path: Path, text: str) -> bool:
    if path.is_symlink():  # never read through a link: the page replaces it
        return True
    if path.is_dir():
        raise DocsError(f"{shown(path, 120)}: is a folder where a generated page belongs")
    try:
        return path.read_bytes() != text.encode("utf-8")
    except FileNotFoundError:
        return True


def old_manifest(out: Path) -> dict[str, str]:
    """rel -> digest of the well-formed entries of DIR's manifest; the rest is ignored."""
    path = out / MANIFEST
    if path.is_symlink() or not path.is_file():
        return {}
    text = path.read_bytes().decode("utf-8", errors="replace")
    found = (_ENTRY.fullmatch(line) for line in text.splitlines())
    return {m[2]: m[1] for m in found if m and PAGE_NAME.fullmatch(m[2])}


def _removable(out: Path, rel: str, want: str) -> bool:
    """A page the generator wrote and nobody changed since: safe to delete."""
    try:
        path = _check_route(out, rel)
    except DocsError:
        return False
    if path.is_symlink() or not path.is_file():
        return False
    return hashlib.sha256(path.read_bytes()).hexdigest() == want


def leftovers(out: Path) -> list[Path]:
    """Staging folders an interrupted run left in DIR."""
    if not out.is_dir():
        return []
    return sorted(p for p in out.iterdir() if p.name.startswith(STAGING))


def plan(out: Path, pages: dict[str, str]) -> tuple[list[str], list[str]]:
    """(pages that differ, obsolete pages safe to remove); raises DocsError up front."""
    if out.is_symlink() and not out.is_dir() or out.exists() and not out.is_dir():
        raise DocsError(f"--out: {shown(out, 120)} exists and is not a folder")
    try:
        differ = [rel for rel, text in sorted(pages.items())
                  if _differs(_check_route(out, rel), text)]
        obsolete = [rel for rel, want in old_manifest(out).items()
                    if rel not in pages and _removable(out, rel, want)]
    except OSError as exc:
        raise oserror(exc) from None
    return differ, obsolete


def commit(out: Path, files: dict[str, str], obsolete: list[str]) -> None:
    """Stage every file, then rename each into place (the manifest last), then remove the
    obsolete pages; an earlier run's staging folders are removed first."""
    try:
        for old in leftovers(out):
            _remove(old)
        out.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=STAGING, dir=out))
    except OSError as exc:
        raise oserror(exc) from None
    try:
        for rel, text in files.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_bytes(text.encode("utf-8"))
        for rel in sorted(files, key=lambda r: r == MANIFEST):
            _check_route(out, rel).parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp / rel, out / rel)
        for rel in obsolete:
            (out / rel).unlink()
    except OSError as exc:
        raise oserror(exc) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def replace_text(path: Path, text: str) -> None:
    """Write path whole: a temporary file beside it, renamed over it."""
    fd, tmp = tempfile.mkstemp(prefix=".kvmspte-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8"))
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
