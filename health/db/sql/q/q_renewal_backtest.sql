-- one row per account with an out-of-time prediction for the week $week_end: the backtest fold model's risks, trained only on outcomes known by outcomes_known_by
select
    account_id,
    churn_risk,
    null::double as health_score,
    'model' as score_source,
    decision_risk,
    fold,
    outcomes_known_by
from model_backtest
where week_end = $week_end::date
