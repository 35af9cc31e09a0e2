"""The refresh's build order (STEPS), the one-shot commands, and the first-run demo database."""
