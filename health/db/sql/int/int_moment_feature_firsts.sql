-- one row per account per event: the day it was first used, and its use in each of the four weeks from then
with
    event_days as (select * from int_event_days),
    accounts as (select * from stg_accounts),
    firsts as (
        select account_id, event, any_value(feature) as feature, min(day) as first_day
        from event_days group by account_id, event
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
