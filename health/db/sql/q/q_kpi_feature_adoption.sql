-- one row per group per feature: share of recently active accounts and users using it
with
    params as (select * from params),
    events as (select * from int_user_feature_days),
    -- The accounts asked for, each with its group (see accounts_by in macros.sql).
    scope as (select * from accounts_by($by, $segments, $account_ids)),
    scoped as (select s."group", e.* from events as e join scope as s using (account_id)),
    recent as (
        select r.* from scoped as r, params as p where r.day > p.as_of - $days::integer
    ),
    -- Per account first, as int_adoption_accounts and int_adoption_features store it for 28
    -- days: a user is an account's user, so the counts add up over a group's accounts.
    -- Active = did anything in the window, as product analytics tools count it.
    active_accounts as (
        select "group", account_id, count(distinct user_id) as users from recent group by all
    ),
    active as (
        select "group", count(*) as active_accounts, sum(users)::bigint as active_users
        from active_accounts group by all
    ),
    -- Every feature the accounts ever used, so one unused lately shows as 0 rather than missing.
    features as (
        select distinct s."group", w.feature
        from int_feature_weeks as w join scope as s using (account_id)
    ),
    account_features as (
        select "group", account_id, feature, count(distinct user_id) as users
        from recent group by all
    ),
    used as (
        select "group", feature, count(*) as accounts, sum(users)::bigint as users
        from account_features group by all
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
