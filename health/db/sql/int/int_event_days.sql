-- one row per account per event name per day with activity (a day's row depends on that day's events only, so a refresh rebuilds just the days that changed)
with events as (select * from stg_events)
select account_id, day, event, feature, count(*) as events
from events
group by all
order by account_id, day
