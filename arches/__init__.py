"""Built-in architecture models (installed as ``kvmspte.arches``).

One module per architecture variant; each registers in ``kvmspte.registry``
exactly as a third-party plugin would through the ``kvmspte.arches.v1``
entry-point group.
"""
