"""The moments of truth and their kinds: one taxonomy for detectors, actions and evaluation."""

# The three moments of truth and the finer kinds the detectors report for each.
KINDS_OF: dict[str, tuple[str, ...]] = {
    "relationship_change": ("stalled_onboarding", "early_wow"),
    "crisis": ("engagement_drop", "champion_left"),
    "delight": ("usage_spike", "expansion", "promoter"),
}
MOMENTS: tuple[str, ...] = tuple(KINDS_OF)
MOMENT_OF: dict[str, str] = {kind: moment for moment, kinds in KINDS_OF.items() for kind in kinds}
KINDS: tuple[str, ...] = tuple(MOMENT_OF)
