-- one row per account per calendar week (the last to the as-of date): distinct event types used in the 28 days to week_end, and ever
with
    -- not kept whole in memory: each part below reads only the days it needs
    event_days as not materialized (select * from int_event_days),
    params as (select * from params),
    all_weeks as (select account_id, week_end from int_account_weeks),
    -- the weeks a refresh computes (params.rebuild_from on; the earlier are kept)
    weeks as (select * from all_weeks where week_end >= (select rebuild_from from params)),
    first_row as (select account_id, min(week_end) as w0 from weeks group by all),
    event_weeks as (
        select distinct e.account_id, e.event, week_end(e.day, p.as_of) as week_end
        from event_days as e, params as p
        where e.day >= p.rebuild_from - 28
    ),
    -- Each complete week an event was used in, with the weeks to its next such week (4 after
    -- the last: no window reaches further).
    gaps as (
        select
            e.account_id,
            e.week_end,
            coalesce(
                date_diff(
                    'day',
                    e.week_end,
                    lead(e.week_end) over (
                        partition by e.account_id, e.event order by e.week_end
                    )
                ) // 7,
                4
            ) as gap
        from event_weeks as e, params as p
        where e.week_end < p.as_of
    ),
    -- Sundays: the 28 days to one are its calendar week and the three before. An event used in
    -- week w is in the windows of weeks w + k (k < 4), and counts once in each, by its latest
    -- week in it: while the next (`gap` weeks on) is not in the same window, k < gap. The
    -- count(distinct event) of those windows, with no distinct.
    recent as (
        select
            account_id,
            (week_end + (7 * k)::integer)::date as week_end,
            count(*) as event_types_28d
        from gaps, range(0, 4) as r(k), params as p
        where k < gap and week_end + (7 * k)::integer < p.as_of
        group by account_id, (week_end + (7 * k)::integer)::date
        union all
        -- the as-of date: exactly the 28 days to it, from the daily rows
        select e.account_id, p.as_of as week_end, count(distinct e.event) as event_types_28d
        from event_days as e, params as p
        where e.day > p.as_of - 28 and e.day <= p.as_of
        group by all
    ),
    -- Each event's first week (in the account's weeks); one first before the weeks computed
    -- counts in the first of them, so the running sum starts where the kept weeks left off.
    firsts as (
        select f.account_id, greatest(f.week_end, r.w0) as week_end, count(*) as new_types
        from (
            select e.account_id, e.event, week_end(min(e.day), any_value(p.as_of)) as week_end
            from event_days as e, params as p
            group by e.account_id, e.event
        ) as f
        semi join all_weeks as w on w.account_id = f.account_id and w.week_end = f.week_end
        join first_row as r on r.account_id = f.account_id
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
