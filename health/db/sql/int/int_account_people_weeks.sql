-- one row per account per calendar week (the last to the as-of date): its champions (how many, how many left, when one was last active) and users who left
with
    all_weeks as (select account_id, week_end from int_account_weeks),
    -- the weeks a refresh computes (params.rebuild_from on; the earlier are kept) and the 11
    -- before them that their windows reach
    weeks as (
        select * from all_weeks where week_end >= (select rebuild_from - 84 from params)
    ),
    first_row as (select account_id, min(week_end) as w0 from weeks group by all),
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
    -- a champion's last active day by each week; the days before the weeks read count in the
    -- first of them
    champion_active as (
        select d.account_id, greatest(d.week_end, r.w0) as week_end, max(d.day) as last_day
        from (
            select u.*, week_end(u.day, p.as_of) as week_end
            from user_days as u
            join champions as c on c.user_id = u.user_id
            cross join params as p
        ) as d
        semi join all_weeks as w on w.account_id = d.account_id and w.week_end = d.week_end
        join first_row as r on r.account_id = d.account_id
        group by all
    ),
    departures as (
        select u.account_id, week_end(u.deactivated_at::date, p.as_of) as week_end, count(*) as n
        from users as u, params as p
        where u.deactivated_at is not null
        group by all
    ),
    -- the as-of date's window: exactly the 84 days to it (a Sunday's: 12 calendar weeks)
    departures_now as (
        select u.account_id, count(*) as users_left_84d
        from users as u, params as p, stg_accounts as a
        where u.deactivated_at::date > p.as_of - 84 and u.deactivated_at::date <= p.as_of
            -- from the signup's week on, as the weekly rows count
            and a.account_id = u.account_id and u.deactivated_at >= date_trunc('week', a.signup_date)
        group by all
    )
select
    w.account_id,
    w.week_end,
    coalesce(s.champions, 0) as champions,
    coalesce(s.champions_left, 0) as champions_left,
    s.champion_since,
    max(a.last_day) over wall as champion_last_active,
    case when w.week_end = p.as_of then coalesce(n.users_left_84d, 0)
        else sum(coalesce(d.n, 0)) over w12 end as users_left_84d
from weeks as w
cross join params as p
left join departures_now as n using (account_id)
left join status as s using (account_id, week_end)
left join champion_active as a using (account_id, week_end)
left join departures as d using (account_id, week_end)
window
    wall as (partition by w.account_id order by w.week_end rows unbounded preceding),
    w12 as (partition by w.account_id order by w.week_end rows between 11 preceding and current row)
