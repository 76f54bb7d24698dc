"""Old path of ``kvmspte.sim.pagetable``, kept for architecture plugins: the same module object."""

import sys

from kvmspte.sim import pagetable as _module

sys.modules[__name__] = _module
