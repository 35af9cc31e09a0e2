-- one row per calendar week for one account: health score, churn risk and tier (is_partial: the as-of date's week, to date)
select h.week_end, h.health_score, h.churn_risk, h.tier,
    h.week_end = p.as_of and isodow(p.as_of) <> 7 as is_partial
from mart_health_history as h, params as p
where h.account_id = $account_id
order by h.week_end
