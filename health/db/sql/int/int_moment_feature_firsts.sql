-- one row per account per event: the day it was first used, and its use in each of the four weeks from then
with
    -- not copied whole (DuckDB materialises a CTE read twice): each use scans what it needs
    event_days as not materialized (select * from int_event_days),
    accounts as (select * from stg_accounts),
    params as (select * from params),
    -- A refresh keeps the events first used 28 days or more before params.rebuild_from (their
    -- four weeks are over) on accounts signed up before it, and computes the others: those used
    -- in the 28 days before it or later, and every event of an account signed up since.
    computed as (
        select distinct e.account_id, e.event
        from event_days as e, params as p
        where e.day > p.rebuild_from - 28
        union
        select e.account_id, e.event
        from event_days as e
        join accounts as a using (account_id)
        cross join params as p
        where a.signup_date >= p.rebuild_from
    ),
    firsts as (
        select account_id, event, any_value(feature) as feature, min(day) as first_day
        from event_days
        semi join computed using (account_id, event)
        group by account_id, event
    ),
    after as (
        select f.account_id, f.event,
            coalesce(sum(e.events) filter (where e.day < f.first_day + 7), 0)::BIGINT as events_w0,
            coalesce(sum(e.events) filter (where e.day >= f.first_day + 7 and e.day < f.first_day + 14), 0)::BIGINT as events_w1,
            coalesce(sum(e.events) filter (where e.day >= f.first_day + 14 and e.day < f.first_day + 21), 0)::BIGINT as events_w2,
            coalesce(sum(e.events) filter (where e.day >= f.first_day + 21), 0)::BIGINT as events_w3
        from firsts as f
        join event_days as e using (account_id, event)
        where e.day < f.first_day + 28
        group by all
    )
select
    f.account_id,
    f.event,
    f.feature,
    f.first_day,
    date_diff('day', a.signup_date, f.first_day) as age_days,
    x.events_w0,
    x.events_w1,
    x.events_w2,
    x.events_w3
from firsts as f
join accounts as a using (account_id)
join after as x using (account_id, event)
