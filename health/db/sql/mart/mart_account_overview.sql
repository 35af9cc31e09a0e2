-- one row per account: who it is, and its product activity in the last 28 days vs the 28 before
with
    accounts as (select * from stg_accounts),
    params as (select * from params),
    days as (select * from int_account_days),
    -- not kept whole in memory: each use reads the columns and days it needs
    user_days as not materialized (select * from int_user_days),
    subscriptions as (select * from stg_subscriptions),
    -- exact trailing days to the as-of date (not calendar weeks)
    activity as (
        select
            d.account_id,
            sum(d.events) filter (where d.day > p.as_of - 28) as events_28d,
            sum(d.events) filter (where d.day <= p.as_of - 28) as events_prev_28d
        from days as d, params as p
        where d.day > p.as_of - 56 and d.day <= p.as_of
        group by all
    ),
    users as (
        select
            u.account_id,
            count(distinct u.user_id) filter (where u.day > p.as_of - 28) as users_28d,
            count(distinct u.user_id) filter (where u.day <= p.as_of - 28) as users_prev_28d
        from user_days as u, params as p
        where u.day > p.as_of - 56
        group by all
    ),
    last_active as (select account_id, max(day) as last_active_on from user_days group by all),
    seats as (
        select account_id, arg_max(seats, start_date) as seats
        from subscriptions group by all
    )
select
    a.account_id,
    a.name,
    a.segment,
    a.plan,
    a.industry,
    a.region,
    a.csm_owner,
    a.arr,
    s.seats,
    a.signup_date,
    a.churn_date,
    a.renewal_date,
    a.churn_date is null as is_active,
    date_diff('day', a.signup_date, coalesce(a.churn_date, p.as_of)) as tenure_days,
    coalesce(act.events_28d, 0) as events_28d,
    coalesce(act.events_prev_28d, 0) as events_prev_28d,
    coalesce(u.users_28d, 0) as users_28d,
    coalesce(u.users_prev_28d, 0) as users_prev_28d,
    case when act.events_prev_28d > 0
        then act.events_28d / act.events_prev_28d - 1 end as events_trend,
    l.last_active_on
from accounts as a
cross join params as p
left join activity as act using (account_id)
left join users as u using (account_id)
left join last_active as l using (account_id)
left join seats as s using (account_id)
