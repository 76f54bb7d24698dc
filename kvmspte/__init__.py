"""kvmspte: execute models of KVM's .change_pte() path, architecture by architecture."""

__version__ = "0.1.0"

#: the version of every JSON document kvmspte reads or writes (reports, listings, scenarios)
SCHEMA_VERSION = 1
