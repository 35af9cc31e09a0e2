-- one row per account scored in the week $week_end, by the score that carries it today (mart_health_history: today's model re-scores every past week)
select
    account_id,
    churn_risk,
    health_score,
    score_source,
    null::double as decision_risk,
    null::integer as fold,
    null::date as outcomes_known_by
from mart_health_history
where week_end = $week_end::date
