-- one row per group per feature: share of recently active accounts and users using it
with
    params as (select * from params),
    accounts as (select * from stg_accounts),
    events as (select * from int_user_feature_days),
    -- The accounts asked for, each with its group (see accounts_by in macros.sql).
    scope as (select * from accounts_by($by, $segments, $account_ids)),
    scoped as (select s."group", e.* from events as e join scope as s using (account_id)),
    recent as (
        select r.* from scoped as r, params as p where r.day > p.as_of - $days::integer
    ),
    -- Active = did anything in the window, as product analytics tools count it.
    active as (
        select "group", count(distinct account_id) as active_accounts,
            count(distinct user_id) as active_users
        from recent group by all
    ),
    -- Every feature the accounts ever used, so one unused lately shows as 0 rather than missing.
    features as (
        select distinct s."group", w.feature
        from int_feature_weeks as w join scope as s using (account_id)
    ),
    used as (
        select "group", feature, count(distinct account_id) as accounts,
            count(distinct user_id) as users
        from recent group by all
    )
select
    a."group",
    f.feature,
    coalesce(u.accounts, 0) as accounts_using,
    a.active_accounts,
    accounts_using / a.active_accounts as account_share,
    case when a.active_users > 0 then coalesce(u.users, 0) end as users_using,
    a.active_users,
    users_using / nullif(a.active_users, 0) as user_share
from active as a
join features as f using ("group")
left join used as u using ("group", feature)
order by a."group", account_share desc, f.feature
