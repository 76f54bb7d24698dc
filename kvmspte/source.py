"""Old path of ``kvmspte.sim.source``, kept for architecture plugins: the same module object."""

import sys

from kvmspte.sim import source as _module

sys.modules[__name__] = _module
