-- one row per contract period started by the as-of date
with subscriptions as (select * from subscriptions), params as (select * from params)
select
    s.account_id,
    s.start_date,
    s.end_date,
    s.mrr,
    s.seats,
    s.plan
from subscriptions as s, params as p
where s.start_date <= p.as_of
