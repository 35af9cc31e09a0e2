-- one row per user per day with activity (a day's row depends on that day's events only, so a refresh rebuilds just the days that changed)
with events as (select * from stg_events)
select account_id, user_id, day, count(*) as events
from events
where user_id is not null
group by all
-- stored in account order: the drill-down's lookups by account or user skip most of the table
order by account_id, user_id, day
