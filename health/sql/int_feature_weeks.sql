-- one row per account per feature per week with activity
with events as (select * from stg_events), params as (select * from params)
select
    e.account_id,
    e.feature,
    week_end(e.day, p.as_of) as week_end,
    count(*) as events,
    count(distinct e.user_id) as active_users
from events as e, params as p
group by all
