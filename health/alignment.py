"""Alignment: where CSM judgement and the data disagree, and whose ideal customer is whose."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from health import db


def disagreements(con) -> pl.DataFrame:
    """Active accounts whose latest CSM sentiment contradicts their health tier, by ARR at stake."""
    return db.query(con, "q_alignment_disagreements")


def matrix(con) -> pl.DataFrame:
    """Accounts and ARR for every (CSM sentiment, data tier) pair."""
    return db.query(con, "q_alignment_matrix")


def icp_traits(con) -> pl.DataFrame:
    """Each trait value's share among all accounts, product's ideal ones and CS's green ones."""
    return db.query(con, "q_alignment_icp")


@dataclass(frozen=True)
class Overlap:
    """How far product's ideal customers and CS's green accounts are the same accounts."""

    product_ideal: int
    cs_ideal: int
    both: int

    @property
    def jaccard(self) -> float | None:
        """Shared accounts over accounts in either list (1 = the same list)."""
        either = self.product_ideal + self.cs_ideal - self.both
        return self.both / either if either else None


def overlap(traits: pl.DataFrame) -> Overlap:
    """The overlap of the two ideal-customer lists (any one trait's counts sum to the totals)."""
    one = traits.filter(pl.col("trait") == "segment")
    return Overlap(
        product_ideal=int(one["product_ideal_accounts"].sum()),
        cs_ideal=int(one["cs_ideal_accounts"].sum()),
        both=int(one["both_accounts"].sum()),
    )


def meeting_questions(disagree: pl.DataFrame, traits: pl.DataFrame, ov: Overlap) -> list[str]:
    """Questions for the next product-CS meeting, drawn from the biggest gaps in the data."""
    questions = []
    optimistic = disagree.filter(pl.col("disagreement") == "CSM optimistic")
    if optimistic.height:
        top = optimistic.row(0, named=True)
        questions.append(
            f"{optimistic.height} accounts (${optimistic['arr'].fill_null(0).sum():,.0f} ARR) are "
            f"rated green by their CSM but at risk in the data, led by {top['name']} "
            f"({top['drivers'] or 'no driver recorded'}). What does the CSM see that usage "
            "does not, and is the model missing it?"
        )
    pessimistic = disagree.filter(pl.col("disagreement") == "CSM pessimistic")
    if pessimistic.height:
        questions.append(
            f"{pessimistic.height} accounts are rated red by their CSM yet healthy in the data. "
            "What risk lives outside the product (budget, politics, a competitor)? Should it "
            "become a signal we record?"
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
    if ov.jaccard is not None:
        questions.append(
            f"Only {ov.jaccard:.0%} of the accounts on either list are on both "
            f"({ov.both} of {ov.product_ideal + ov.cs_ideal - ov.both}). Can we agree on one "
            "definition of a healthy customer and measure it the same way?"
        )
    return questions
