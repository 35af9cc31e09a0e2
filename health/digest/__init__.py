"""The daily digest: one email per CSM with what changed since their last digest, a weekly one
for leaders; written as .eml files and, when asked, sent over SMTP with STARTTLS."""

from health.digest.compose import Email, compose
from health.digest.content import Digest, Line, Section, csm_digest, leader_digest
from health.digest.settings import DigestError, Settings, SmtpSettings, load_settings

__all__ = [
    "Digest",
    "DigestError",
    "Email",
    "Line",
    "Section",
    "Settings",
    "SmtpSettings",
    "compose",
    "csm_digest",
    "leader_digest",
    "load_settings",
]
