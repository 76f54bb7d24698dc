"""Old path of ``kvmspte.sim.trace``, kept for architecture plugins: the same module object."""

import sys

from kvmspte.sim import trace as _module

sys.modules[__name__] = _module
