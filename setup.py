"""Package discovery for kvmspte (everything else is in pyproject.toml).

Every package under kvmspte/ is found, including namespace folders of data such
as kvmspte/scenarios, so a new subpackage cannot be left out of the wheel; arches/
sits at the top of the repository and installs as kvmspte.arches, with its own
subpackages (if any) found the same way.
"""

from setuptools import find_namespace_packages, setup

SKIP = ["*__pycache__*", "*.egg-info*"]
OWN = find_namespace_packages(include=["kvmspte", "kvmspte.*"], exclude=SKIP)
ARCHES = ["kvmspte.arches"] + [f"kvmspte.arches.{p}" for p in
                               find_namespace_packages("arches", exclude=SKIP)]

setup(packages=OWN + ARCHES, package_dir={"kvmspte.arches": "arches"})
