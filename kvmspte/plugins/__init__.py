"""Architecture plugins: the contract a model implements (contract.py) and the registry that finds built-in and third-party models (registry.py)."""
