-- one row per group per calendar month per feature: share of its active accounts, users
with
    params as (select * from params),
    accounts as (select * from stg_accounts),
    events as (select * from int_user_feature_days),
    -- The accounts asked for, each with its group (see accounts_by in macros.sql).
    scope as (select * from accounts_by($by, $segments, $account_ids)),
    recent as (
        select s."group", e.account_id, e.user_id, e.feature,
            date_trunc('month', e.day)::date as month
        from events as e
        join scope as s using (account_id)
        cross join params as p
        where e.day >= date_trunc('month', p.as_of) - to_months($months::integer - 1)
    ),
    active as (
        select "group", month, count(distinct account_id) as active_accounts,
            count(distinct user_id) as active_users
        from recent group by all
    ),
    features as (select distinct "group", feature from recent),
    used as (
        select "group", month, feature, count(distinct account_id) as accounts,
            count(distinct user_id) as users
        from recent group by all
    )
select
    a."group",
    a.month,
    -- The as-of month is partial: it holds only the days up to the as-of date.
    a.month + interval 1 month <= p.as_of + 1 as complete,
    f.feature,
    coalesce(u.accounts, 0) as accounts_using,
    a.active_accounts,
    accounts_using / a.active_accounts as account_share,
    case when a.active_users > 0 then coalesce(u.users, 0) end as users_using,
    a.active_users,
    users_using / nullif(a.active_users, 0) as user_share
from active as a
join features as f using ("group")
cross join params as p
left join used as u using ("group", month, feature)
order by a."group", a.month, f.feature
