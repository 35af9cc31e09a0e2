-- one row per account per feature per week with activity
with event_days as (select * from int_event_days), params as (select * from params)
select e.account_id, e.feature, week_end(e.day, p.as_of) as week_end, sum(e.events)::BIGINT as events
from event_days as e, params as p
where e.day >= p.rebuild_from  -- the weeks a refresh computes (the earlier are kept)
group by all
