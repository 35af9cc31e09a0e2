-- one row per account per week (weeks end on the as-of date's weekday), signup to churn or as-of
with accounts as (select * from stg_accounts), params as (select * from params)
select
    a.account_id,
    (p.as_of - (7 * k)::INTEGER)::date as week_end,
    k as weeks_ago,
    (date_diff('day', a.signup_date, p.as_of - (7 * k)::INTEGER) // 7) as age_weeks
from accounts as a, params as p,
    range(0, date_diff('day', a.signup_date, p.as_of) // 7 + 1) as r(k)
where a.churn_date is null or p.as_of - (7 * k)::INTEGER < a.churn_date + 7
