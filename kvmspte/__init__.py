"""kvmspte: execute models of KVM's .change_pte() path, architecture by architecture."""

__version__ = "0.1.0"

#: the version of every JSON document kvmspte reads or writes (reports, listings, scenarios)
SCHEMA_VERSION = 1


def envelope(command: str | None, **fields) -> dict:
    """A JSON document's head: schema_version (and, given a command, tool and command),
    then the fields in order."""
    head: dict = {"schema_version": SCHEMA_VERSION}
    if command is not None:
        head.update(tool="kvmspte", command=command)
    return {**head, **fields}
