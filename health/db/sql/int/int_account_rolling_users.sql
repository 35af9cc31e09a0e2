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
    -- Each active week with the weeks to the user's next one (8 after the last: no window
    -- reaches further).
    gaps as (
        select
            account_id,
            user_id,
            week_end,
            coalesce(
                date_diff(
                    'day',
                    week_end,
                    lead(week_end) over (partition by account_id, user_id order by week_end)
                ) // 7,
                8
            ) as gap
        from user_weeks
    ),
    -- Active in week w, a user is in window week w + k's 7 days if k = 0, its 28 days if k < 4,
    -- the 28 before if 4 <= k < 8. It counts once per window, by its latest active week in it:
    -- while the next one (`gap` weeks on) is not in the same window, k < gap for the 7 and 28
    -- days, k < gap + 4 for the 28 before. The counts of grouping by user and window week first
    -- (22M rows at 4,000 accounts), with a group-by of accounts and weeks only.
    spread as (
        select account_id, (week_end + (7 * k)::integer)::date as week_end, k, gap
        from gaps, range(0, 8) as r(k)
        where k < gap or (k >= 4 and k < gap + 4)
    ),
    weekly as (
        select
            account_id,
            week_end,
            count(*) filter (where k = 0) as users_7d,
            count(*) filter (where k < 4 and k < gap) as users_28d,
            count(*) filter (where k >= 4 and k < gap + 4) as users_prev_28d
        from spread, params as p
        where spread.week_end < p.as_of and spread.week_end >= p.rebuild_from
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
