"""The app's pages, registered in one list that app.py and the tests share."""

from dataclasses import dataclass


@dataclass(frozen=True)
class PageSpec:
    """A page: its file, title, icon, URL path and navigation section."""

    file: str
    title: str
    icon: str
    url: str
    section: str


PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/accounts.py", "Accounts", ":material/groups:", "accounts", "Customers"),
    PageSpec("pages/data.py", "Data", ":material/database:", "data", "Admin"),
)
