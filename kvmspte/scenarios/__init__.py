"""Scenarios: their definition, the loader and schema of scenario files, and the built-in catalogue (the TOML files here)."""
