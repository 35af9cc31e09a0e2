-- one row per user created by the as-of date; a deactivation after it is not known yet
with users as (select * from users), params as (select * from params)
select
    u.user_id,
    u.account_id,
    coalesce(u.name, u.user_id) as name,
    u.email,
    u.title,
    coalesce(u.role, 'member') as role,
    coalesce(u.is_champion, false) as is_champion,
    u.created_at,
    case when u.deactivated_at < p.as_of + 1 then u.deactivated_at end as deactivated_at
from users as u, params as p
where u.created_at is null or u.created_at < p.as_of + 1
