"""Package discovery for kvmspte (everything else is in pyproject.toml).

Every package under kvmspte/ is found, including namespace folders of data such
as kvmspte/scenarios, so a new subpackage cannot be left out of the wheel; arches/
sits at the top of the repository and installs as kvmspte.arches, with its own
subpackages (if any) found the same way. A stale build/ of an earlier run never reaches the
wheel (FreshBuildPy).
"""

import json
import shutil
import tomllib
from pathlib import Path

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py

SKIP = ["*__pycache__*", "*.egg-info*"]
OWN = find_namespace_packages(include=["kvmspte", "kvmspte.*"], exclude=SKIP)
ARCHES = ["kvmspte.arches"] + [f"kvmspte.arches.{p}" for p in
                               find_namespace_packages("arches", exclude=SKIP)]



class FreshBuildPy(build_py):
    """Empty the build folder's kvmspte/ first: setuptools reuses build/lib between runs, so a
    module deleted or moved in the source would otherwise still be copied into the wheel."""

    def run(self):
        shutil.rmtree(Path(self.build_lib) / "kvmspte", ignore_errors=True)
        super().run()
        compile_catalogue(Path(self.build_lib) / "kvmspte" / "scenarios")


def compile_catalogue(folder: Path) -> None:
    """Write kvmspte.scenarios.loader.COMPILED: every built-in TOML file's text and parsed
    document, so an installed kvmspte starts without importing tomllib (the loader uses an
    entry only while its text is the file's text)."""
    table = {}
    for path in sorted(folder.glob("*.toml")):
        text = path.read_text(encoding="utf-8")
        table[path.name] = [text, tomllib.loads(text)]
    (folder / "catalogue.json").write_text(json.dumps(table, ensure_ascii=False, indent=None),
                                           encoding="utf-8")


setup(packages=OWN + ARCHES, package_dir={"kvmspte.arches": "arches"},
      cmdclass={"build_py": FreshBuildPy})
