"""Alignment: where CSM judgement and the data disagree, and whose ideal customer is whose."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from health import db

# What each query reads: a refresh that stopped early (no model, no journey) leaves some out.
NEEDS = {
    "q_alignment_disagreements": (
        "mart_account_overview",
        "mart_account_health",
        "stg_touchpoints",
    ),
    "q_alignment_matrix": ("mart_account_overview", "mart_account_health", "stg_touchpoints"),
    "q_alignment_icp": (
        "mart_account_overview",
        "mart_account_health",
        "int_journey_milestones",
        "stg_touchpoints",
    ),
}
NO_SENTIMENT = "no touchpoint"


def missing(con) -> list[str]:
    """The relations the alignment report reads that this database lacks (empty when none)."""
    needed = dict.fromkeys(t for tables in NEEDS.values() for t in tables)
    return [t for t in needed if not db.table_exists(con, t)]


def _query(con, name: str, account_ids: list[str] | None) -> pl.DataFrame:
    # None keeps every account and an empty list keeps none, as in health.metrics; the SQL
    # reads an empty list as "no filter", so the empty case is cut here.
    frame = db.query(con, name, account_ids=list(account_ids or []))
    return frame.clear() if account_ids is not None and not account_ids else frame


def disagreements(con, account_ids: list[str] | None = None) -> pl.DataFrame:
    """Active accounts whose latest CSM sentiment contradicts their health tier, by ARR at stake."""
    return _query(con, "q_alignment_disagreements", account_ids)


def matrix(con, account_ids: list[str] | None = None) -> pl.DataFrame:
    """Accounts and ARR for every (CSM sentiment, data tier) pair."""
    return _query(con, "q_alignment_matrix", account_ids)


def icp_traits(con, account_ids: list[str] | None = None) -> pl.DataFrame:
    """Each trait value's share among all accounts, product's ideal ones and CS's green ones."""
    return _query(con, "q_alignment_icp", account_ids)


def has_sentiment(grid: pl.DataFrame) -> bool:
    """Whether any active account in the matrix has a CSM sentiment at all."""
    return grid.filter(pl.col("csm_sentiment") != NO_SENTIMENT).height > 0


@dataclass(frozen=True)
class Disagreement:
    """The size of the disagreement: accounts and ARR on each side."""

    accounts: int
    arr: float
    optimistic: int
    optimistic_arr: float
    pessimistic: int
    pessimistic_arr: float


def summarise(disagree: pl.DataFrame) -> Disagreement:
    """Count the disagreements and sum their ARR, overall and per side."""

    def side(label: str) -> tuple[int, float]:
        part = disagree.filter(pl.col("disagreement") == label)
        return part.height, float(part["arr"].fill_null(0).sum())

    optimistic, pessimistic = side("CSM optimistic"), side("CSM pessimistic")
    return Disagreement(
        accounts=disagree.height,
        arr=float(disagree["arr"].fill_null(0).sum()),
        optimistic=optimistic[0],
        optimistic_arr=optimistic[1],
        pessimistic=pessimistic[0],
        pessimistic_arr=pessimistic[1],
    )


@dataclass(frozen=True)
class Overlap:
    """How far product's ideal customers and CS's green accounts are the same accounts."""

    product_ideal: int
    cs_ideal: int
    both: int

    @property
    def either(self) -> int:
        """Accounts on at least one of the two lists."""
        return self.product_ideal + self.cs_ideal - self.both

    @property
    def jaccard(self) -> float | None:
        """Shared accounts over accounts in either list (1 = the same list)."""
        return self.both / self.either if self.either else None


def overlap(traits: pl.DataFrame) -> Overlap:
    """The overlap of the two ideal-customer lists (any one trait's counts sum to the totals)."""
    one = traits.filter(pl.col("trait") == "segment")
    return Overlap(
        product_ideal=int(one["product_ideal_accounts"].sum()),
        cs_ideal=int(one["cs_ideal_accounts"].sum()),
        both=int(one["both_accounts"].sum()),
    )


def _count(n: int) -> str:
    return f"{n} account is" if n == 1 else f"{n} accounts are"


def _names(frame: pl.DataFrame, n: int = 3) -> str:
    return ", ".join(frame["name"].fill_null(frame["account_id"]).head(n).to_list())


def meeting_questions(
    disagree: pl.DataFrame,
    traits: pl.DataFrame,
    ov: Overlap,
    grid: pl.DataFrame | None = None,
) -> list[str]:
    """Questions for the next product-CS meeting, drawn from the biggest gaps in the data."""
    questions = []
    optimistic = disagree.filter(pl.col("disagreement") == "CSM optimistic")
    if optimistic.height:
        top = optimistic.row(0, named=True)
        questions.append(
            f"{_count(optimistic.height)} rated green by their CSM "
            f"(${optimistic['arr'].fill_null(0).sum():,.0f} ARR) but at risk in the data, led "
            f"by {top['name']} ({top['drivers'] or 'no driver recorded'}). What does the CSM "
            "see that usage does not, and is the model missing it?"
        )
    pessimistic = disagree.filter(pl.col("disagreement") == "CSM pessimistic")
    if pessimistic.height:
        questions.append(
            f"{_count(pessimistic.height)} rated red by their CSM "
            f"(${pessimistic['arr'].fill_null(0).sum():,.0f} ARR) yet healthy in the data, "
            f"e.g. {_names(pessimistic)}. "
            "What risk lives outside the product (budget, politics, a competitor)? Should it "
            "become a signal we record?"
        )
    if grid is not None and has_sentiment(grid):
        unjudged = grid.filter(pl.col("csm_sentiment") == NO_SENTIMENT)
        if unjudged.height:
            at_risk = unjudged.filter(pl.col("tier") == "at_risk")["accounts"].sum()
            questions.append(
                f"{unjudged['accounts'].sum()} active accounts "
                f"(${unjudged['arr'].fill_null(0).sum():,.0f} ARR) have no CSM sentiment "
                f"recorded, {at_risk} of them at risk in the data. Who looks after them?"
            )
    gaps = traits.with_columns(
        (pl.col("share_product_ideal") - pl.col("share_cs_ideal")).abs().alias("gap")
    ).sort("gap", descending=True, nulls_last=True)
    if gaps.height and gaps["gap"][0] is not None and gaps["gap"][0] >= 0.1:
        g = gaps.row(0, named=True)
        questions.append(
            f"{g['trait'].title()} '{g['value']}' is {g['share_product_ideal']:.0%} of product's "
            f"ideal customers but {g['share_cs_ideal']:.0%} of CS's green accounts. Which of us "
            "is describing our best customer?"
        )
    # Product's own view needs no sentiment: the trait its ideal customers over-index on most.
    lean = traits.with_columns(
        (pl.col("share_product_ideal") - pl.col("share_all")).alias("lean")
    ).sort("lean", descending=True, nulls_last=True)
    if lean.height and (lean["lean"][0] or 0) >= 0.1:
        g = lean.row(0, named=True)
        questions.append(
            f"{g['share_product_ideal']:.0%} of product's ideal customers are {g['trait']} "
            f"'{g['value']}', against {g['share_all']:.0%} of all accounts. Should sales and "
            "CS look for more customers like them?"
        )
    # Without any green account there is no CS list to compare with: no overlap question.
    if ov.jaccard is not None and ov.cs_ideal and ov.product_ideal:
        only = "Only " if ov.jaccard < 0.5 else ""
        questions.append(
            f"{only}{ov.jaccard:.0%} of the accounts on either list are on both "
            f"({ov.both} of {ov.either}). Can we agree on one "
            "definition of a healthy customer and measure it the same way?"
        )
    return questions
