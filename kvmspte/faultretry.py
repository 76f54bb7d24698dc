"""Old path of ``kvmspte.sim.faultretry``, kept for architecture plugins: the same module object."""

import sys

from kvmspte.sim import faultretry as _module

sys.modules[__name__] = _module
