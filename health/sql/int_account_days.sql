-- one row per account per day with activity
with events as (select * from stg_events)
select
    account_id,
    day,
    count(*) as events,
    count(distinct user_id) as active_users,
    count(distinct feature) as features,
    sum(value) as value
from events
group by all
-- stored in account order: lookups of one account skip most of the table
order by account_id, day
