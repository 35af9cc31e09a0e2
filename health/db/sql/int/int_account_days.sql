-- one row per account per day with activity (a day's row depends on that day's events only, so a refresh rebuilds just the days that changed)
with events as (select * from stg_events)
select account_id, day, count(*) as events, sum(value) as value
from events
group by all
-- stored in account order: lookups of one account skip most of the table
order by account_id, day
