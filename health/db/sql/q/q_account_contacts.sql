-- one row per person at one account: role, champion flag, activity in the last 28 days
with
    users as (select * from stg_users where account_id = $account_id),
    days as (select * from int_user_days where account_id = $account_id),
    params as (select * from params),
    activity as (
        select d.user_id, max(d.day) as last_active_on,
            count(*) filter (where d.day > p.as_of - 28) as active_days_28d
        from days as d, params as p group by all
    )
select
    u.name, u.email, u.title, u.role, u.is_champion,
    u.created_at::date as created_on, u.deactivated_at::date as deactivated_on,
    a.last_active_on, coalesce(a.active_days_28d, 0) as active_days_28d
from users as u
left join activity as a using (user_id)
order by u.is_champion desc, u.deactivated_at nulls first, a.last_active_on desc nulls last
