"""Old path of ``kvmspte.plugins.contract``, kept for architecture plugins: the same module object."""

import sys

from kvmspte.plugins import contract as _module

sys.modules[__name__] = _module
