"""What each role may open and see: pages, accounts, contacts. Small pure functions."""

from __future__ import annotations

from collections.abc import Iterable

from health.auth.users import ROLES, User

# Which roles may open each page, by the page's url (its identity in pages.PAGES). A page not
# listed here is open to leaders and admins only until someone decides who else needs it.
PAGE_ROLES: dict[str, frozenset[str]] = {
    "accounts": frozenset({"csm", "pm", "leader", "admin"}),
    "my-accounts": frozenset({"csm", "pm", "leader", "admin"}),
    "account": frozenset({"csm", "pm", "leader", "admin"}),
    "actions": frozenset({"csm", "leader", "admin"}),
    "segments": frozenset({"pm", "leader", "admin"}),
    "journey": frozenset({"pm", "leader", "admin"}),
    "features": frozenset({"pm", "leader", "admin"}),
    "model": frozenset({"pm", "leader", "admin"}),
    "playbooks": frozenset({"csm", "pm", "leader", "admin"}),
    "portfolio": frozenset({"leader", "admin"}),
    "alignment": frozenset({"leader", "admin"}),
    "renewals": frozenset({"leader", "admin"}),
    "data": frozenset({"admin"}),
    "settings": frozenset({"admin"}),
}
UNLISTED_PAGE_ROLES = frozenset({"leader", "admin"})
# Columns that name or reach a person at a customer; blanked for roles without contact access.
CONTACT_COLUMNS = (
    "email",
    "contact",
    "contact_name",
    "contact_email",
    "champion",
    "champion_name",
    "champion_email",
    "user_name",
    "user_email",
    "respondent",
)


def can_open(role: str, url: str) -> bool:
    """Whether a role may open the page at this url."""
    if role not in ROLES:
        return False
    return role in PAGE_ROLES.get(url, UNLISTED_PAGE_ROLES)


def pages_for(role: str, urls: Iterable[str] | None = None) -> set[str]:
    """The page urls a role may open, among `urls` (default: every page in the table)."""
    return {u for u in (PAGE_ROLES if urls is None else urls) if can_open(role, u)}


def can_view_account(user: User, account_owner: str | None) -> bool:
    """Whether the user may open an account: a CSM their own book only, other roles all."""
    if user.role not in ROLES:
        return False
    if user.role != "csm":
        return True
    return bool(user.csm_name) and (account_owner or "").strip() == user.csm_name


def can_see_contacts(role: str) -> bool:
    """Whether a role sees the names and emails of people at customers."""
    return role in ("csm", "admin")
