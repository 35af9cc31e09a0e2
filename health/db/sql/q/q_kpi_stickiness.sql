-- one row per group: DAU/MAU over the last days (mean daily active users / active users)
with
    params as (select * from params),
    user_days as (select * from int_user_days),
    -- The accounts asked for, each with its group (see accounts_by in macros.sql).
    scope as (select * from accounts_by($by, $segments, $account_ids)),
    -- Per account first, as int_adoption_accounts stores it for 28 days: a user is an
    -- account's user, so the counts add up over a group's accounts.
    per_account as (
        select s."group", d.account_id, count(distinct d.user_id) as users, count(*) as user_days
        from user_days as d
        join scope as s using (account_id)
        cross join params as p
        where d.day > p.as_of - $days::integer
        group by all
    )
select
    "group",
    $days::integer as days,
    count(*) as active_accounts,
    sum(user_days) / $days::integer as avg_dau,
    sum(users)::bigint as mau,
    avg_dau / mau as dau_mau
from per_account
group by all
order by "group"
