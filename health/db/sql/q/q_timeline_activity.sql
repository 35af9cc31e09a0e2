-- one row per week per feature for one account: events
select week_end, feature, events
from int_feature_weeks
where account_id = $account_id
order by week_end, feature
