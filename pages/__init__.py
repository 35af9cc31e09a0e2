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
    # The first page is the default: a CSM's morning starts with their book.
    PageSpec(
        "pages/my_accounts.py",
        "My accounts",
        ":material/assignment_ind:",
        "my-accounts",
        "Customers",
    ),
    PageSpec("pages/account.py", "Account", ":material/person_search:", "account", "Customers"),
    PageSpec("pages/accounts.py", "Accounts", ":material/groups:", "accounts", "Customers"),
    PageSpec("pages/segments.py", "Segments", ":material/compare_arrows:", "segments", "Product"),
    PageSpec("pages/journey.py", "Journey", ":material/route:", "journey", "Product"),
    PageSpec("pages/features.py", "Features", ":material/extension:", "features", "Product"),
    PageSpec(
        "pages/portfolio.py", "Portfolio", ":material/account_balance:", "portfolio", "Leadership"
    ),
    PageSpec("pages/alignment.py", "Alignment", ":material/join_inner:", "alignment", "Leadership"),
    PageSpec("pages/renewals.py", "Renewals", ":material/event_repeat:", "renewals", "Leadership"),
    PageSpec("pages/model.py", "Model", ":material/model_training:", "model", "Insights"),
    PageSpec("pages/playbooks.py", "Playbooks", ":material/fact_check:", "playbooks", "Insights"),
    PageSpec("pages/data.py", "Data", ":material/database:", "data", "Admin"),
)
