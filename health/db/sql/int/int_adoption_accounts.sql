-- one row per account with an event in the 28 days to the as-of date: its distinct active users and user-days (a user active on a day) in them, 0 when its events name no user; the Segments page's stickiness and active counts sum these rows (a user is an account's user, so counts add up over accounts), never the daily rows
with
    params as (select * from params),
    account_days as (select * from int_account_days),
    user_days as (select * from int_user_days),
    active as (
        select distinct account_id
        from account_days, params as p
        where day > p.as_of - 28 and day <= p.as_of
    ),
    -- per user first, then per account: two plain group-bys, cheaper than a count(distinct)
    active_users as (
        select account_id, user_id, count(*) as days
        from user_days, params as p
        where day > p.as_of - 28 and day <= p.as_of
        group by all
    ),
    users as (
        select account_id, count(*) as users_28d, sum(days)::bigint as user_days_28d
        from active_users
        group by all
    )
select
    a.account_id,
    coalesce(u.users_28d, 0) as users_28d,
    coalesce(u.user_days_28d, 0) as user_days_28d
from active as a
left join users as u using (account_id)
order by a.account_id
