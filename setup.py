"""Package discovery for kvmspte (everything else is in pyproject.toml).

Every package under kvmspte/ is found, including namespace folders of data such
as kvmspte/scenarios, so a new subpackage cannot be left out of the wheel; arches/
sits at the top of the repository and installs as kvmspte.arches, with its own
subpackages (if any) found the same way. A stale build/ of an earlier run never reaches the
wheel (FreshBuildPy).
"""

import shutil
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


setup(packages=OWN + ARCHES, package_dir={"kvmspte.arches": "arches"},
      cmdclass={"build_py": FreshBuildPy})
