"""Moments of truth (relationship change, crisis, delight): pure detectors over tidy frames."""
