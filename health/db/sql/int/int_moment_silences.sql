-- one row per champion per silence (14+ days without activity after an active day, or the open stretch to the as-of date): the last active day before it, the next one (null while it lasts), active days in the 8 weeks up to it
with
    user_days as (select * from int_user_days),
    users as (select * from stg_users),
    params as (select * from params),
    champs as (
        select account_id, user_id, name, deactivated_at::date as deactivated_on
        from users
        where is_champion
    ),
    days as (
        select d.account_id, d.user_id, d.day::date as day,
            lead(d.day::date) over (partition by d.account_id, d.user_id order by d.day) as next_day,
            count(*) over (
                partition by d.account_id, d.user_id order by d.day::date
                range between interval 55 days preceding and current row
            ) as active_days_8w
        from user_days as d
        join champs as c using (account_id, user_id)
    )
select
    c.account_id,
    c.user_id,
    coalesce(c.name, c.user_id) as name,
    c.deactivated_on,
    d.day as last_day,
    d.next_day,
    d.active_days_8w
from days as d
join champs as c using (account_id, user_id)
cross join params as p
where date_diff('day', d.day, coalesce(d.next_day, p.as_of + 1)) > 14
    or (d.next_day is null and c.deactivated_on is not null)
