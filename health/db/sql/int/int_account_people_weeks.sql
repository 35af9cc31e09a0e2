-- one row per account per week: its champions (how many, how many left, when one was last active) and users who left
with
    weeks as (select account_id, week_end from int_account_weeks),
    users as (select * from stg_users),
    user_days as (select * from int_user_days),
    params as (select * from params),
    champions as (
        select user_id, account_id, created_at, deactivated_at from users where is_champion
    ),
    status as (
        select
            w.account_id,
            w.week_end,
            count(*) as champions,
            count(*) filter (where c.deactivated_at < w.week_end + 1) as champions_left,
            min(c.created_at)::date as champion_since
        from weeks as w
        join champions as c
            on c.account_id = w.account_id
            and (c.created_at is null or c.created_at < w.week_end + 1)
        group by all
    ),
    champion_active as (
        select d.account_id, week_end(d.day, p.as_of) as week_end, max(d.day) as last_day
        from user_days as d
        join champions as c on c.user_id = d.user_id
        cross join params as p
        group by all
    ),
    departures as (
        select u.account_id, week_end(u.deactivated_at::date, p.as_of) as week_end, count(*) as n
        from users as u, params as p
        where u.deactivated_at is not null
        group by all
    )
select
    w.account_id,
    w.week_end,
    coalesce(s.champions, 0) as champions,
    coalesce(s.champions_left, 0) as champions_left,
    s.champion_since,
    max(a.last_day) over wall as champion_last_active,
    sum(coalesce(d.n, 0)) over w12 as users_left_84d
from weeks as w
left join status as s using (account_id, week_end)
left join champion_active as a using (account_id, week_end)
left join departures as d using (account_id, week_end)
window
    wall as (partition by w.account_id order by w.week_end rows unbounded preceding),
    w12 as (partition by w.account_id order by w.week_end rows between 11 preceding and current row)
