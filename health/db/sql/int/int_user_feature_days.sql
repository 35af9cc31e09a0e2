-- one row per account per user per feature per day with activity (the user is null for events without one; what the adoption KPIs count, so they never read raw events)
with events as (select * from stg_events)
select account_id, user_id, feature, day, count(*) as events
from events
group by all
order by account_id, day
