"""Who may use the app and what each role may see: users, passwords, permissions (no Streamlit)."""

from health.auth.passwords import LoginThrottle, check_password, hash_password, verify
from health.auth.permissions import (
    CONTACT_COLUMNS,
    PAGE_ROLES,
    can_open,
    can_see_contacts,
    can_view_account,
    pages_for,
)
from health.auth.users import (
    ROLE_HELP,
    ROLES,
    User,
    UsersError,
    add_user,
    get_user,
    load_users,
    normal_username,
    remove_user,
    save_users,
    user_for_email,
    users_configured,
    users_path,
    validated,
)

__all__ = [
    "CONTACT_COLUMNS",
    "PAGE_ROLES",
    "ROLES",
    "ROLE_HELP",
    "LoginThrottle",
    "User",
    "UsersError",
    "add_user",
    "can_open",
    "can_see_contacts",
    "can_view_account",
    "check_password",
    "get_user",
    "hash_password",
    "load_users",
    "normal_username",
    "pages_for",
    "remove_user",
    "save_users",
    "user_for_email",
    "users_configured",
    "users_path",
    "validated",
    "verify",
]
