"""Suggested actions: playbooks, the refresh step that proposes them, the CSMs' action log."""
