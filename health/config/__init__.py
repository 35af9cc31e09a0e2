"""The product's settings as TOML (scorecard, journey, playbooks): one loader, one error type."""

from health.config.loader import CONFIG_DIR, ConfigError, load, path

__all__ = ["CONFIG_DIR", "ConfigError", "load", "path"]
