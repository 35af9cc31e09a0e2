-- one row per product event up to the end of the as-of day
with events as (select * from events), params as (select * from params)
select
    e.account_id,
    e.event_time,
    e.event_time::date as day,
    e.event,
    e.user_id,
    coalesce(e.feature, e.event) as feature,
    e.value
from events as e, params as p
where e.event_time < p.as_of + 1
