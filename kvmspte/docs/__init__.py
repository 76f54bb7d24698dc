"""Documentation generation: the pages (generate.py, given the click group) and writing them safely (files.py)."""
