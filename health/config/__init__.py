"""The product's settings as TOML: the scorecard, the journey, the playbooks and their moments."""
