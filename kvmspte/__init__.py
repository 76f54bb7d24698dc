"""kvmspte: execute models of KVM's .change_pte() path, architecture by architecture."""

__version__ = "0.1.0"
