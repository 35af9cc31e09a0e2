-- one row per group: DAU/MAU over the last 28 days, summed from the refresh's per-account counts (q_kpi_stickiness for any other window)
with
    recent as (select * from int_adoption_accounts),
    -- The accounts asked for, each with its group (see accounts_by in macros.sql).
    scope as (select * from accounts_by($by, $segments, $account_ids)),
    per_account as (
        select s."group", r.users_28d as users, r.user_days_28d as user_days
        from recent as r
        join scope as s using (account_id)
        where r.users_28d > 0
    )
select
    "group",
    28::integer as days,
    count(*) as active_accounts,
    sum(user_days) / 28::integer as avg_dau,
    sum(users)::bigint as mau,
    avg_dau / mau as dau_mau
from per_account
group by all
order by "group"
