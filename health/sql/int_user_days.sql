-- one row per user per day with activity
with events as (select * from stg_events)
select account_id, user_id, day, count(*) as events, count(distinct feature) as features
from events
where user_id is not null
group by all
