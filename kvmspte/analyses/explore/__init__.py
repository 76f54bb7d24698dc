"""explore: a bounded model checker over interleavings of notifier, mm and vCPU steps.

A race is a small set of actors, each a fixed sequence of atomic steps read from
the kernel source (with the locks a step needs as its guard).  The checker visits
every reachable state breadth-first, deduplicating identical worlds, checks the
invariants at each, and reports the shortest counter-example for the first
violation it meets.
"""
