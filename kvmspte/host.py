"""Old path of ``kvmspte.sim.host``, kept for architecture plugins: the same module object."""

import sys

from kvmspte.sim import host as _module

sys.modules[__name__] = _module
