"""Data in: the input contract, reading files, row rules, and the all-or-nothing load."""
