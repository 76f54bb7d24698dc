"""Old path of ``kvmspte.sim.kvm``, kept for architecture plugins: the same module object."""

import sys

from kvmspte.sim import kvm as _module

sys.modules[__name__] = _module
