-- one row per account per span of days over which the same contract lines are open (started by the as-of date): their sums
with
    subscriptions as (select * from subscriptions),
    params as (select * from params),
    -- Exports disagree on whether end_date is the last day or the day the next line starts.
    -- The folder's own habit decides, by whether lines that follow one another start on the
    -- previous end_date or the day after: one bit for the whole folder, so no account's later
    -- lines tell anything about its earlier ones.
    convention as (
        select coalesce(
            count(*) filter (where n.start_date = s.end_date + 1)
                > count(*) filter (where n.start_date = s.end_date),
            false
        ) as inclusive
        from subscriptions as s
        join subscriptions as n
            on n.account_id = s.account_id and n.start_date in (s.end_date, s.end_date + 1)
        , params as p
        where s.start_date <= p.as_of and n.start_date <= p.as_of
    ),
    raw_lines as (
        select s.*,
            case when c.inclusive then s.end_date + 1 else s.end_date end as stop,
            -- An open line without an id is superseded by a later line of the same plan (an
            -- export that starts a new open row at each change), from the day that one starts.
            case when s.end_date is null and s.subscription_id is null then (
                select min(n.start_date) from subscriptions as n
                where n.account_id = s.account_id and n.subscription_id is null
                  and n.start_date > s.start_date and n.start_date <= p.as_of
                  and n.plan is not distinct from s.plan
            ) end as superseded_on
        from subscriptions as s, params as p, convention as c
        where s.start_date <= p.as_of
    ),
    sized as (
        select *, round(date_diff('day', start_date, stop) / 30.436875)::integer as months
        from raw_lines
    ),
    lines as (
        select
            account_id, start_date, mrr, seats, plan,
            -- A line as long as a standard term ends at a renewal known when it was signed;
            -- any other end is a cancellation, known only from the day it happens.
            months in (1, 3, 6, 12, 24, 36)
                and abs(date_diff('day', start_date, stop) - months * 30.436875) <= 4 as is_term,
            case when months in (1, 3, 6, 12, 24, 36)
                and abs(date_diff('day', start_date, stop) - months * 30.436875) <= 4
                then months end as term_months,
            case when stop <= p.as_of
                or (months in (1, 3, 6, 12, 24, 36)
                    and abs(date_diff('day', start_date, stop) - months * 30.436875) <= 4)
                then greatest(stop, start_date + 1) else superseded_on end as stop
        from sized, params as p
    ),
    bounds as (
        select distinct account_id, start_date as day from lines
        union
        select account_id, stop from lines where stop is not null
    ),
    spans as (
        select
            account_id,
            day as start_date,
            lead(day) over (partition by account_id order by day) as end_date
        from bounds, params as p
        where day <= p.as_of
    ),
    sums as (
        select
            s.account_id,
            s.start_date,
            s.end_date,
            sum(l.mrr) as mrr,
            sum(l.seats) as seats,
            -- the plan is the biggest line's; add-ons are the other lines
            arg_max(l.plan, coalesce(l.mrr, 0)) as plan,
            count(*) as lines,
            min(l.stop) filter (where l.is_term) as term_end,
            arg_max(l.term_months, coalesce(l.mrr, 0)) filter (where l.is_term) as term_months
        from spans as s
        join lines as l
            on l.account_id = s.account_id
            and l.start_date <= s.start_date
            and (l.stop is null or l.stop > s.start_date)
        group by all
    ),
    plans as (
        select *,
            plan is distinct from lag(plan) over (partition by account_id order by start_date)
                as new_plan
        from sums
    )
select
    account_id,
    start_date,
    end_date,
    mrr,
    seats,
    plan,
    lines,
    term_end,
    term_months,
    max(case when new_plan then start_date end) over (
        partition by account_id order by start_date rows unbounded preceding
    ) as plan_since
from plans
