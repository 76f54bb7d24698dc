"""Analyses over the simulation: the one run loop (compare, check, matrix, docs), the matrix, explain, the arches listing, and the interleaving explorer."""
