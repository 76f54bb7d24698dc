"""Old path of ``kvmspte.sim.release``, kept for architecture plugins: the same module object."""

import sys

from kvmspte.sim import release as _module

sys.modules[__name__] = _module
