"""One account and lists of accounts: the overview, a CSM's book, the drill-down, the timeline."""
