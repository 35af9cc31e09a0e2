-- one row per account per complete week of age (0 to 11 weeks after signup): events, active users, newly active users, newly used features; only accounts whose signup the export saw
with
    accounts as (select * from stg_accounts),
    params as (select * from params),
    -- not copied whole (DuckDB materialises a CTE read twice): each use scans what it needs
    days as not materialized (select * from int_account_days),
    user_days as not materialized (select * from int_user_days),
    event_days as (select * from int_event_days),
    -- An export that starts more than two weeks after an account's signup (an established
    -- company's last months) did not see its onboarding: the account's first weeks are unknown.
    export as (select min(day) as first_day from days),
    early as (
        select a.account_id, a.signup_date, least(p.as_of + 1, coalesce(a.churn_date, p.as_of + 1)) as until
        from accounts as a, params as p, export as x
        where a.signup_date + 7 <= p.as_of + 1 and a.signup_date >= x.first_day - 14
            -- a refresh keeps the accounts whose 12 weeks ended before params.rebuild_from
            and a.signup_date + 84 > p.rebuild_from
    ),
    usage as (
        select d.account_id, date_diff('day', e.signup_date, d.day) // 7 as age_week,
            sum(d.events) as events
        from days as d join early as e using (account_id)
        where d.day >= e.signup_date and d.day < e.signup_date + 84
        group by all
    ),
    weekly_users as (
        select u.account_id, date_diff('day', e.signup_date, u.day) // 7 as age_week,
            count(distinct u.user_id) as active_users
        from user_days as u join early as e using (account_id)
        where u.day >= e.signup_date and u.day < e.signup_date + 84
        group by all
    ),
    user_firsts as (
        select u.account_id, u.user_id, min(u.day) as first_day
        from user_days as u join early as e using (account_id)
        where u.day < e.signup_date + 84
        group by all
    ),
    new_users as (
        select f.account_id, greatest(date_diff('day', e.signup_date, f.first_day) // 7, 0) as age_week,
            count(*) as new_users
        from user_firsts as f join early as e using (account_id)
        group by all
    ),
    feature_firsts as (
        select v.account_id, v.feature, min(v.day) as first_day
        from event_days as v join early as e using (account_id)
        where v.day < e.signup_date + 84
        group by all
    ),
    new_features as (
        select f.account_id, greatest(date_diff('day', e.signup_date, f.first_day) // 7, 0) as age_week,
            count(*) as new_features
        from feature_firsts as f join early as e using (account_id)
        group by all
    ),
    grid as (
        select e.account_id, e.signup_date, k as age_week
        from early as e, range(0, 12) as r(k)
        where e.signup_date + (7 * (k + 1))::INTEGER <= e.until  -- complete weeks, before any churn
    )
select
    g.account_id,
    g.age_week,
    (g.signup_date + (7 * g.age_week + 3)::INTEGER)::date as mid_day,
    coalesce(u.events, 0) as events,
    coalesce(w.active_users, 0) as active_users,
    coalesce(n.new_users, 0) as new_users,
    coalesce(f.new_features, 0) as new_features
from grid as g
left join usage as u using (account_id, age_week)
left join weekly_users as w using (account_id, age_week)
left join new_users as n using (account_id, age_week)
left join new_features as f using (account_id, age_week)
