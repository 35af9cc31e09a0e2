-- one row per group: DAU/MAU over the last days (mean daily active users / active users)
with
    params as (select * from params),
    user_days as (select * from int_user_days),
    -- The accounts asked for, each with its group (see accounts_by in macros.sql).
    scope as (select * from accounts_by($by, $segments, $account_ids)),
    recent as (
        select s."group", d.account_id, d.user_id, d.day
        from user_days as d
        join scope as s using (account_id)
        cross join params as p
        where d.day > p.as_of - $days::integer
    )
select
    "group",
    $days::integer as days,
    count(distinct account_id) as active_accounts,
    count(*) / $days::integer as avg_dau,
    count(distinct user_id) as mau,
    avg_dau / mau as dau_mau
from recent
group by all
order by "group"
