-- one row per user who was active or is a named champion: joined, first and last active day, activity before the last, deactivation
with
    activity as (select * from int_moment_user_activity),
    users as (select * from stg_users),
    people as (
        select account_id, user_id, name, is_champion, created_at::date as created_on,
            deactivated_at::date as deactivated_on
        from users
    )
select
    coalesce(a.account_id, p.account_id) as account_id,
    coalesce(a.user_id, p.user_id) as user_id,
    coalesce(p.name, a.user_id, p.user_id) as name,
    coalesce(p.is_champion, false) as is_champion,
    p.deactivated_on,
    -- joined: created, unless the export's created_at is later than the first activity
    least(p.created_on, a.first_day) as joined_on,
    a.first_day,
    a.last_day,
    coalesce(a.active_days, 0) as active_days,
    coalesce(a.active_days_8w, 0) as active_days_8w
from activity as a
full join people as p using (account_id, user_id)
where a.user_id is not null or p.is_champion
