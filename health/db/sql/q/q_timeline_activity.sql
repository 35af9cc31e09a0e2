-- one row per calendar week per feature for one account: events (is_partial: the week to the as-of date, not over yet)
select f.week_end, f.feature, f.events, f.week_end = p.as_of and isodow(p.as_of) <> 7 as is_partial
from int_feature_weeks as f, params as p
where f.account_id = $account_id
order by f.week_end, f.feature
