-- one row per account per week: distinct event types used in the 28 days to week_end, and ever
with
    event_days as (select * from int_event_days),
    weeks as (select account_id, week_end from int_account_weeks),
    params as (select * from params),
    event_weeks as (
        select distinct e.account_id, e.event, week_end(e.day, p.as_of) as week_end
        from event_days as e, params as p
    ),
    recent as (
        select
            account_id,
            (week_end + (7 * k)::integer)::date as week_end,
            count(distinct event) as event_types_28d
        from event_weeks, range(0, 4) as r(k)
        group by account_id, (week_end + (7 * k)::integer)::date
    ),
    firsts as (
        select account_id, first_week as week_end, count(*) as new_types
        from (select account_id, event, min(week_end) as first_week from event_weeks group by all)
        group by all
    )
select
    w.account_id,
    w.week_end,
    coalesce(r.event_types_28d, 0) as event_types_28d,
    sum(coalesce(f.new_types, 0)) over (
        partition by w.account_id order by w.week_end rows unbounded preceding
    ) as event_types_ever
from weeks as w
left join recent as r using (account_id, week_end)
left join firsts as f using (account_id, week_end)
