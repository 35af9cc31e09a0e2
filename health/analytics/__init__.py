"""Questions across accounts: KPIs, segments, the journey map, portfolio, alignment, features."""
