"""The simulated companies: product, customer mix, seasons and dynamics, one frozen profile each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class EventSpec:
    """One product event: its area, whether it is an advanced feature, and its usual share."""

    name: str
    feature: str
    advanced: bool = False
    weight: float = 1.0
    value_mu: float | None = None  # log-mean of `value` when the event carries a quantity
    value_sigma: float = 0.8
    value_integer: bool = False


@dataclass(frozen=True)
class SegmentSpec:
    """A customer segment: its share, team sizes, contracts and plans."""

    name: str
    share: float
    active_users: tuple[int, int]  # users active in the product at steady state
    seats: tuple[int, int]  # seats bought
    annual_share: float  # the rest pay monthly
    plan_weights: tuple[float, ...]  # over Profile.plans
    advanced_base: float  # typical number of advanced features adopted


@dataclass(frozen=True)
class Profile:
    """Everything that makes one simulated company different from another."""

    name: str
    n_accounts: int
    end_date: date
    years: float
    events: tuple[EventSpec, ...]
    segments: tuple[SegmentSpec, ...]
    plans: tuple[tuple[str, float], ...]  # (name, list price per seat per month)
    industries: tuple[tuple[str, float], ...]
    regions: tuple[tuple[str, float, float], ...]  # (name, share, working-hours centre in UTC)
    csms: tuple[tuple[str, tuple[float, ...]], ...]  # (name, affinity per segment)
    ticket_topics: tuple[str, ...]
    events_per_user_day: float  # per user per ordinary weekday, before any multiplier
    august_dip: float  # 0 for none; holdout's summer slowdown
    signup_growth: float  # >0 means more recent signups (a growing company)
    # Churn: a logit over latent health (and price sensitivity) at each decision point.
    churn_base: float  # annual renewal logit intercept
    churn_health: float  # how much bad health raises the logit (low = usage does not protect)
    churn_price: float  # how much price sensitivity raises it
    churn_monthly_base: float  # monthly-payer logit intercept per month
    churn_nowarn: float  # probability of churn with no warning at a decision point
    churn_midterm: float  # share of annual churns that happen mid-term
    # Planted moments: shares of accounts per kind and magnitudes (all within the definitions).
    story_share: float
    crisis_after_weeks: int  # crises and spikes come at least this long after signup
    double_share: float
    drop_to: tuple[float, float]
    spike_to: tuple[float, float]
    wow_to: tuple[float, float]
    stall_to: tuple[float, float]
    champion_remaining: tuple[float, float]
    expansion_wave: tuple[float, float]
    gap_share: float
    slow_decline_share: float
    slow_decline_to: tuple[float, float]
    tickets_per_user_month: float
    # Onboarding shape: teams ramp from `ramp_from` of their level over `ramp_weeks` (drawn per
    # account); a stall lasts `stall_weeks` and then the team gets going (None: it never does).
    ramp_weeks: tuple[float, float] = (4.0, 4.0)
    ramp_from: float = 0.45
    stall_weeks: tuple[int, int] | None = None
    # Seasons: "" keeps the US or European holidays (by `august_dip`); "anz" is a southern-
    # hemisphere year (long summer break over the year end, Easter, Anzac Day).
    holidays: str = ""
    season_amp: float = 0.04  # yearly swing of usage; negative peaks in December


_DEMO_EVENTS = (
    EventSpec("login", "navigation", weight=0.17),
    EventSpec("dashboard_viewed", "reporting", weight=0.18),
    EventSpec("task_completed", "projects", weight=0.19),
    EventSpec("comment_added", "collaboration", weight=0.12),
    EventSpec("search_performed", "navigation", weight=0.08),
    EventSpec("file_uploaded", "collaboration", weight=0.05, value_mu=1.2, value_sigma=1.1),
    EventSpec("report_created", "reporting", weight=0.05),
    EventSpec("project_created", "projects", weight=0.025),
    EventSpec("automation_created", "automation", True, 0.03),
    EventSpec("workflow_published", "automation", True, 0.025),
    EventSpec("integration_synced", "integrations", True, 0.035),
    EventSpec("api_call", "integrations", True, 0.07, 4.0, 1.0, True),
    EventSpec("custom_field_added", "projects", True, 0.02),
    EventSpec("export_scheduled", "reporting", True, 0.02),
    EventSpec("ai_assist_used", "ai", True, 0.05),
    EventSpec("admin_audit_viewed", "admin", True, 0.015),
    EventSpec("permission_changed", "admin", True, 0.015),
)

_HOLDOUT_EVENTS = (
    EventSpec("session_started", "navigation", weight=0.15),
    EventSpec("query_run", "queries", weight=0.24, value_mu=1.0, value_sigma=1.2),
    EventSpec("notebook_opened", "notebooks", weight=0.14),
    EventSpec("chart_created", "visualization", weight=0.09),
    EventSpec("dashboard_opened", "visualization", weight=0.14),
    EventSpec("chart_shared", "collaboration", weight=0.05),
    EventSpec("dataset_uploaded", "data", weight=0.03, value_mu=3.0, value_sigma=1.3),
    EventSpec("catalog_searched", "navigation", weight=0.06),
    EventSpec("alert_configured", "monitoring", True, 0.02),
    EventSpec("pipeline_scheduled", "pipelines", True, 0.02),
    EventSpec("pipeline_run", "pipelines", True, 0.06, 2.5, 0.9),
    EventSpec("sql_snippet_saved", "queries", True, 0.025),
    EventSpec("warehouse_synced", "data_sources", True, 0.03),
    EventSpec("model_trained", "ml", True, 0.02, 1.5, 0.7),
    EventSpec("api_query", "api", True, 0.06, 6.0, 1.4, True),
    EventSpec("lineage_viewed", "governance", True, 0.015),
    EventSpec("access_granted", "governance", True, 0.012),
    EventSpec("semantic_layer_edited", "modeling", True, 0.02),
)

DEMO = Profile(
    name="demo",
    n_accounts=600,
    end_date=date(2026, 10, 31),
    years=2.5,
    events=_DEMO_EVENTS,
    segments=(
        SegmentSpec("SMB", 0.55, (2, 10), (3, 25), 0.4, (0.65, 0.33, 0.02), 1.5),
        SegmentSpec("Mid-Market", 0.33, (8, 40), (20, 120), 1.0, (0.12, 0.70, 0.18), 3.0),
        SegmentSpec("Enterprise", 0.12, (25, 120), (100, 600), 1.0, (0.0, 0.22, 0.78), 4.5),
    ),
    plans=(("Starter", 22.0), ("Growth", 39.0), ("Enterprise", 58.0)),
    industries=(
        ("Software", 0.22),
        ("Financial Services", 0.14),
        ("Healthcare", 0.13),
        ("Retail", 0.12),
        ("Manufacturing", 0.12),
        ("Education", 0.09),
        ("Logistics", 0.09),
        ("Media", 0.09),
    ),
    regions=(("NA", 0.48, 16.0), ("EMEA", 0.32, 11.0), ("APAC", 0.12, 4.0), ("LATAM", 0.08, 15.5)),
    csms=(
        ("Priya Raman", (0.0, 0.1, 1.0)),
        ("Marcus Webb", (0.0, 0.5, 0.7)),
        ("Elena Petrova", (0.0, 1.0, 0.1)),
        ("Daniel Okafor", (0.4, 0.8, 0.0)),
        ("Sofia Alvarez", (1.0, 0.0, 0.0)),
        ("Tom Lindqvist", (1.0, 0.1, 0.0)),
        ("Hannah Kim", (0.8, 0.3, 0.0)),
    ),
    ticket_topics=(
        "how_to",
        "bug",
        "billing",
        "integrations",
        "performance",
        "access_sso",
        "data_export",
        "feature_request",
    ),
    events_per_user_day=0.54,
    august_dip=0.0,
    signup_growth=0.8,
    churn_base=-1.2,
    churn_health=1.5,
    churn_price=0.15,
    churn_monthly_base=-3.9,
    churn_nowarn=0.06,
    churn_midterm=0.4,
    story_share=0.06,
    crisis_after_weeks=16,
    double_share=0.15,
    drop_to=(0.12, 0.32),
    spike_to=(2.3, 3.2),
    wow_to=(2.8, 3.8),
    stall_to=(0.06, 0.14),
    champion_remaining=(0.52, 0.7),
    expansion_wave=(0.25, 0.5),
    gap_share=0.05,
    slow_decline_share=0.05,
    slow_decline_to=(0.3, 0.5),
    tickets_per_user_month=0.06,
)

HOLDOUT = Profile(
    name="holdout",
    n_accounts=800,
    end_date=date(2026, 6, 30),
    years=2.5,
    events=_HOLDOUT_EVENTS,
    segments=(
        SegmentSpec("SMB", 0.38, (3, 12), (5, 30), 0.8, (0.55, 0.43, 0.02), 1.8),
        SegmentSpec("Mid-Market", 0.42, (10, 50), (25, 150), 1.0, (0.05, 0.75, 0.20), 3.2),
        SegmentSpec("Enterprise", 0.20, (40, 150), (120, 800), 1.0, (0.0, 0.30, 0.70), 4.0),
    ),
    plans=(("Basic", 30.0), ("Pro", 55.0), ("Enterprise", 85.0)),
    industries=(
        ("Software", 0.16),
        ("Financial Services", 0.2),
        ("Insurance", 0.1),
        ("Retail", 0.14),
        ("Energy", 0.08),
        ("Telecom", 0.1),
        ("Public Sector", 0.07),
        ("Travel", 0.15),
    ),
    regions=(("EMEA", 0.46, 10.5), ("NA", 0.34, 15.5), ("APAC", 0.14, 3.5), ("LATAM", 0.06, 14.5)),
    csms=(
        ("Grace Mbeki", (0.0, 0.3, 1.0)),
        ("Lukas Brandt", (0.0, 1.0, 0.4)),
        ("Aisha Rahman", (0.2, 1.0, 0.0)),
        ("Jonas Berg", (1.0, 0.3, 0.0)),
        ("Chloe Martin", (1.0, 0.0, 0.0)),
        ("Rafael Costa", (0.5, 0.6, 0.2)),
    ),
    ticket_topics=(
        "query_error",
        "connector",
        "billing",
        "performance",
        "permissions",
        "data_quality",
        "how_to",
    ),
    events_per_user_day=0.45,
    august_dip=0.4,
    signup_growth=0.3,
    churn_base=-1.35,
    churn_health=0.35,
    churn_price=1.0,
    churn_monthly_base=-4.6,
    churn_nowarn=0.05,
    churn_midterm=0.03,
    story_share=0.045,
    crisis_after_weeks=22,
    double_share=0.1,
    drop_to=(0.2, 0.38),
    spike_to=(2.1, 2.6),
    wow_to=(2.6, 3.2),
    stall_to=(0.05, 0.12),
    champion_remaining=(0.5, 0.7),
    expansion_wave=(0.3, 0.6),
    gap_share=0.05,
    slow_decline_share=0.06,
    slow_decline_to=(0.32, 0.48),
    tickets_per_user_month=0.05,
)

_FIELD_EVENTS = (
    EventSpec("app_opened", "mobile", weight=0.22),
    EventSpec("job_scheduled", "scheduling", weight=0.12),
    EventSpec("job_completed", "jobs", weight=0.2),
    EventSpec("checklist_submitted", "jobs", weight=0.1),
    EventSpec("photo_uploaded", "jobs", weight=0.09, value_mu=0.8, value_sigma=0.9),
    EventSpec("customer_messaged", "communication", weight=0.07),
    EventSpec("quote_sent", "billing", weight=0.04, value_mu=6.0, value_sigma=1.0),
    EventSpec("invoice_sent", "billing", weight=0.04, value_mu=6.3, value_sigma=1.1),
    EventSpec("route_optimized", "dispatch", True, 0.03),
    EventSpec("timesheet_approved", "payroll", True, 0.025),
    EventSpec("inventory_synced", "inventory", True, 0.02, 2.0, 1.0, True),
    EventSpec("accounting_exported", "integrations", True, 0.015),
    EventSpec("form_template_built", "forms", True, 0.012),
    EventSpec("gps_report_viewed", "dispatch", True, 0.015),
)

# Written from the moments issue's description of what the seeds look like, not from the
# detectors' thresholds: small crews (3 to 40 users), onboarding ramps of 2 to 10 weeks from a
# low start, stalls of 4 to 12 weeks at 5 % to 30 % of the later level that then get going, a
# southern-hemisphere year with a long summer break, mobile-heavy usage and a short history.
FIELD = Profile(
    name="field",
    n_accounts=500,
    end_date=date(2026, 3, 31),
    years=1.75,
    events=_FIELD_EVENTS,
    segments=(
        SegmentSpec("Crew", 0.5, (3, 8), (3, 12), 0.2, (0.7, 0.28, 0.02), 1.0),
        SegmentSpec("Contractor", 0.35, (6, 20), (8, 30), 0.6, (0.2, 0.65, 0.15), 2.0),
        SegmentSpec("Fleet", 0.15, (15, 40), (20, 60), 1.0, (0.0, 0.35, 0.65), 3.0),
    ),
    plans=(("Solo", 29.0), ("Team", 45.0), ("Business", 69.0)),
    industries=(
        ("Plumbing", 0.2),
        ("Electrical", 0.18),
        ("HVAC", 0.17),
        ("Landscaping", 0.15),
        ("Cleaning", 0.15),
        ("Pest Control", 0.15),
    ),
    regions=(("APAC", 0.7, 0.0), ("NA", 0.2, 16.0), ("EMEA", 0.1, 9.0)),
    csms=(
        ("Mere Tane", (1.0, 0.4, 0.0)),
        ("Liam O'Brien", (1.0, 0.2, 0.0)),
        ("Ngaio Walker", (0.2, 1.0, 0.3)),
        ("Sam Chen", (0.0, 0.4, 1.0)),
    ),
    ticket_topics=("mobile_sync", "billing", "scheduling", "gps", "how_to", "integrations"),
    events_per_user_day=0.8,
    august_dip=0.0,
    signup_growth=1.2,
    churn_base=-1.0,
    churn_health=1.0,
    churn_price=0.5,
    churn_monthly_base=-3.6,
    churn_nowarn=0.07,
    churn_midterm=0.2,
    story_share=0.06,
    crisis_after_weeks=18,
    double_share=0.1,
    drop_to=(0.1, 0.45),
    spike_to=(2.0, 3.0),
    wow_to=(2.5, 3.5),
    stall_to=(0.05, 0.3),
    champion_remaining=(0.45, 0.7),
    expansion_wave=(0.3, 0.7),
    gap_share=0.06,
    slow_decline_share=0.06,
    slow_decline_to=(0.25, 0.55),
    tickets_per_user_month=0.04,
    ramp_weeks=(2.0, 10.0),
    ramp_from=0.15,
    stall_weeks=(4, 12),
    holidays="anz",
    season_amp=-0.1,
)

PROFILES: dict[str, Profile] = {"demo": DEMO, "holdout": HOLDOUT, "field": FIELD}
