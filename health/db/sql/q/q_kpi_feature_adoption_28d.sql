-- one row per group per feature: share of the accounts and users active in the last 28 days using it, summed from the refresh's per-account rows (q_kpi_feature_adoption for any other window)
with
    accounts as (select * from int_adoption_accounts),
    features as (select * from int_adoption_features),
    -- The accounts asked for, each with its group (see accounts_by in macros.sql).
    scope as (select * from accounts_by($by, $segments, $account_ids)),
    -- Active = did anything in the window, as product analytics tools count it.
    active as (
        select s."group", count(*) as active_accounts, sum(a.users_28d)::bigint as active_users
        from accounts as a
        join scope as s using (account_id)
        group by all
    ),
    -- Every feature the accounts ever used (a row each), so one unused lately counts 0.
    used as (
        select
            s."group",
            f.feature,
            count(*) filter (where f.used_28d) as accounts,
            sum(f.users_28d)::bigint as users
        from features as f
        join scope as s using (account_id)
        group by all
    )
select
    a."group",
    u.feature,
    u.accounts as accounts_using,
    a.active_accounts,
    accounts_using / a.active_accounts as account_share,
    case when a.active_users > 0 then u.users end as users_using,
    a.active_users,
    users_using / nullif(a.active_users, 0) as user_share
from active as a
join used as u using ("group")
order by a."group", account_share desc, u.feature
