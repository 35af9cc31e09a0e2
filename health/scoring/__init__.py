"""Health scores: features per account and week, the scorecard, the churn model, drivers."""
