-- one row per account per week with any user activity in the 56 days to week_end: distinct users active
with
    user_days as (select * from int_user_days),
    params as (select * from params),
    user_weeks as (
        select distinct u.account_id, u.user_id, week_end(u.day, p.as_of) as week_end
        from user_days as u, params as p
    ),
    -- a user active in week w counts in the rolling windows of weeks w .. w+7
    spread as (
        select account_id, user_id, (week_end + (7 * k)::integer)::date as week_end, k
        from user_weeks, range(0, 8) as r(k)
    )
select
    account_id,
    week_end,
    count(distinct user_id) filter (where k = 0) as users_7d,
    count(distinct user_id) filter (where k < 4) as users_28d,
    count(distinct user_id) filter (where k >= 4) as users_prev_28d
from spread
group by all
