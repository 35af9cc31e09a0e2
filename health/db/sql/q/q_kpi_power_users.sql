-- one row per group per days active in a week (1 to 7): user-weeks in the last weeks
with
    params as (select * from params),
    user_days as (select * from int_user_days),
    -- The accounts asked for, each with its group (see accounts_by in macros.sql).
    scope as (select * from accounts_by($by, $segments, $account_ids)),
    user_weeks as (
        select s."group", d.user_id, date_diff('day', d.day, p.as_of) // 7 as weeks_ago,
            count(distinct d.day) as active_days
        from user_days as d
        join scope as s using (account_id)
        cross join params as p
        where d.day > p.as_of - 7 * $weeks::integer
        group by all
    ),
    counts as (select "group", active_days, count(*) as n from user_weeks group by all),
    groups as (select distinct "group" from user_weeks)
select
    g."group",
    n.active_days,
    coalesce(c.n, 0) as user_weeks,
    user_weeks / $weeks::integer as users_per_week,
    user_weeks / sum(user_weeks) over (partition by g."group") as share
from groups as g
cross join range(1, 8) as n(active_days)
left join counts as c using ("group", active_days)
order by g."group", n.active_days
