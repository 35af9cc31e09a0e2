"""Seeded, deterministic demo data in the contract's shape, with planted and known moments of truth.

`generate(out_dir, profile="demo")` writes the data folder and its truth beside it, in
`<out_dir>.truth/`; `PROFILES` lists the simulated companies ("demo", and "holdout" with other
dynamics for honest evaluation).
"""

from health.demo.build import generate
from health.demo.profiles import PROFILES, Profile

__all__ = ["PROFILES", "Profile", "generate"]
