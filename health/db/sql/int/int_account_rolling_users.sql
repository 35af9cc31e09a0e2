-- one row per account per week (Sundays, and the as-of date) with any user activity in the 56 days to week_end: distinct users active in the 7 and 28 days to it and the 28 before
with
    params as (select * from params),
    -- the days both parts read (the windows of the weeks a refresh computes, and of the as-of
    -- date, which is on or after them): read once, not the whole table kept twice
    user_days as (
        select * from int_user_days where day >= (select rebuild_from - 56 from params)
    ),
    -- complete calendar weeks only: a Sunday's windows are whole weeks (7, 28, 56 days)
    user_weeks as (
        select distinct u.account_id, u.user_id, week_end(u.day, p.as_of) as week_end
        from user_days as u, params as p
        where week_end(u.day, p.as_of) < p.as_of
            -- the windows of the weeks a refresh computes (the earlier are kept), if it computes
            -- a complete week at all (a Sunday from rebuild_from, a Monday, to the as-of date)
            and u.day >= p.rebuild_from - 56
            and p.rebuild_from + 6 < p.as_of
    ),
    -- a user active in week w counts in the rolling windows of weeks w .. w+7
    spread as (
        select account_id, user_id, (week_end + (7 * k)::integer)::date as week_end, k
        from user_weeks, range(0, 8) as r(k)
    ),
    -- one row per user per window week: in which parts of the window the user was active
    -- (two plain group-bys instead of three count(distinct)s: the same counts, ~30 % faster)
    user_windows as (
        select
            account_id,
            week_end,
            bool_or(k = 0) as in_7d,
            bool_or(k < 4) as in_28d,
            bool_or(k >= 4) as in_prev_28d
        from spread, params as p
        where spread.week_end < p.as_of and spread.week_end >= p.rebuild_from
        group by account_id, user_id, week_end
    ),
    weekly as (
        select
            account_id,
            week_end,
            count(*) filter (where in_7d) as users_7d,
            count(*) filter (where in_28d) as users_28d,
            count(*) filter (where in_prev_28d) as users_prev_28d
        from user_windows
        group by all
    ),
    -- the as-of date: exact trailing windows of 7, 28 and the 28 days before, from the daily rows
    -- (each user's first and last day in the 56 days, then counted: one group-by, not three)
    user_span as (
        select u.account_id, u.user_id, min(u.day) as first_day, max(u.day) as last_day
        from user_days as u, params as p
        where u.day > p.as_of - 56 and u.day <= p.as_of
        group by all
    ),
    today as (
        select
            s.account_id,
            p.as_of as week_end,
            count(*) filter (where s.last_day > p.as_of - 7) as users_7d,
            count(*) filter (where s.last_day > p.as_of - 28) as users_28d,
            count(*) filter (where s.first_day <= p.as_of - 28) as users_prev_28d
        from user_span as s, params as p
        group by all
    )
select * from weekly
union all
select * from today
