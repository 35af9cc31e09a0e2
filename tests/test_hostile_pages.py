"""Every page, as every role, on the hostile data set (tests/hostile.py): no exception, no
planted URL in Markdown (no image fetched, no live link), no HTML in hover texts, no bidi
override on screen, no 1 MB title, and no name or email of a person at a customer for roles
without contact access."""

from __future__ import annotations

import json

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from health import auth
from health.app import signin
from health.auth.users import User
from pages import PAGES
from tests.conftest import APP_DIR
from tests.hostile import EVIL, RLO, people_at

ROLES = ("csm", "pm", "leader", "admin")
MARKDOWN = ("markdown", "title", "caption", "header", "subheader", "error", "warning", "info")


@pytest.fixture(scope="module")
def setting(hostile, tmp_path_factory):
    """The hostile database, one user per role (the CSM owns the hostile account), the names."""
    path, account_id = hostile
    con = duckdb.connect(str(path), read_only=True)
    owner = con.execute(
        "SELECT csm_owner FROM accounts WHERE account_id = ?", [account_id]
    ).fetchall()[0][0]
    con.close()
    users = tmp_path_factory.mktemp("hostile-users") / "users.toml"
    hashed = auth.hash_password("correct horse battery")
    for role in ROLES:
        name = owner if role == "csm" else f"{role.title()} Person"
        auth.add_user(User(role, name, role, password_hash=hashed), users)
    return path, account_id, users, people_at(path, account_id)


def texts(at: AppTest) -> tuple[list[str], list[str], list[str]]:
    """What the page wrote as Markdown, what its tables hold, and its charts' JSON."""
    md = [str(e.value) for kind in MARKDOWN for e in getattr(at, kind)]
    md += [e.label for e in [*at.expander, *at.status]] + [m.label for m in at.metric]
    cells = [
        str(v)
        for d in at.dataframe
        for col in d.value.columns
        # text columns, whichever way this pandas stores text (object or str)
        if pd.api.types.is_object_dtype(d.value[col]) or pd.api.types.is_string_dtype(d.value[col])
        for v in d.value[col].dropna()
    ]
    charts = [c.proto.spec for c in at.get("plotly_chart")]
    return md, cells, charts


@pytest.mark.parametrize("role", ROLES)
def test_every_page_shows_hostile_data_as_text_to_every_role(setting, role, monkeypatch):
    path, account_id, users, people = setting
    monkeypatch.setenv("HEALTH_DB", str(path))
    monkeypatch.setenv("HEALTH_USERS", str(users))
    user = auth.get_user(role)
    at = AppTest.from_file(str(APP_DIR / "app.py"), default_timeout=60)
    at.session_state[signin.SESSION_KEY] = (user.username, user.password_hash)
    at.run()
    opened = 0
    for spec in PAGES:
        if not auth.can_open(role, spec.url):
            continue
        if spec.url == "account":
            at.query_params["account"] = account_id
        at.switch_page(spec.file).run()
        opened += 1
        where = f"{spec.title} as {role}"
        assert not at.exception, (where, at.exception)
        assert not [e.value for e in at.error if "unexpected problem" in e.value], where
        md, cells, charts = texts(at)
        # Escaped, a planted URL reads "http\://evil\.example": no image, no link, no autolink.
        assert not [t[:200] for t in md if f"http://{EVIL}" in t], where
        assert not [t[:200] for t in md if RLO in t], where
        assert max(map(len, md), default=0) < 20_000, where  # the 1 MB name is cut
        for spec_json in charts:
            shown = json.dumps(json.loads(spec_json))
            assert "<img" not in shown and "<script" not in shown and "<a " not in shown, where
        if not auth.can_see_contacts(role):
            everything = " ".join(md + cells + charts).lower()
            assert not [p for p in people if p.lower() in everything], where
    assert opened == len(auth.pages_for(role, [p.url for p in PAGES]))
