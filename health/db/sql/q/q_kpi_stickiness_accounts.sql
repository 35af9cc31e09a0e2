-- one row per account with a user active in the last days: its DAU/MAU over them
with
    params as (select * from params),
    user_days as (select * from int_user_days),
    -- The accounts asked for, each with its group (see accounts_by in macros.sql).
    scope as (select * from accounts_by($by, $segments, $account_ids)),
    recent as (
        select s."group", s.name, d.account_id, d.user_id, d.day
        from user_days as d
        join scope as s using (account_id)
        cross join params as p
        where d.day > p.as_of - $days::integer
    )
select
    "group",
    account_id,
    name,
    $days::integer as days,
    count(distinct day) as active_days,
    count(*) / $days::integer as avg_dau,
    count(distinct user_id) as mau,
    avg_dau / mau as dau_mau
from recent
group by all
order by "group", dau_mau desc, account_id
