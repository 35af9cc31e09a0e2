-- one row per week for one account: health score, churn risk and tier
select week_end, health_score, churn_risk, tier
from mart_health_history
where account_id = $account_id
order by week_end
