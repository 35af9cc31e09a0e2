-- one row per day with events: how many and the latest event time (all loaded events, not only those up to the as-of date; the event layer compares two of these to find the first day that changed)
with events as (select * from events)
select event_time::date as day, count(*) as events, max(event_time) as max_event_time
from events
group by all
order by day
