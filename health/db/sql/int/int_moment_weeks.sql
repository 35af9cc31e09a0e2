-- one row per account per complete calendar week (Monday to Sunday) from signup (or, for an account older than the export, its first whole week) to churn, up to the last Sunday by the as-of date: events and active users (a new day never changes a finished week)
with
    accounts as (select * from stg_accounts),
    params as (select * from params),
    days as (select * from int_account_days),
    -- A complete week's events and active users are int_account_weeks' (built earlier by the
    -- refresh, from the same daily rows): not counted again from the users' days.
    account_weeks as (select * from int_account_weeks),
    anchor as (
        select (p.as_of - (isodow(p.as_of) % 7)::INTEGER)::date as last_sunday, p.rebuild_from
        from params as p
    ),
    -- An export of the last months only (an established company's) starts long after many
    -- signups: the weeks before its first day were not seen, which is not the same as idle, so
    -- they are left out (a partial first week too). Slack of two weeks: a young company's
    -- first events can come days after its first signups.
    export as (select min(day) as first_day from days),
    seen_from as (
        select a.*,
            case when a.signup_date < x.first_day - 14 then x.first_day + 6 else a.signup_date end
                as first_week_end
        from accounts as a, export as x
    ),
    weeks as (
        select a.account_id, a.signup_date, (n.last_sunday - (7 * k)::INTEGER)::date as week_end
        from seen_from as a, anchor as n,
            range(0, greatest(date_diff('day', a.first_week_end, n.last_sunday) // 7 + 1, 0)) as r(k)
        where (a.churn_date is null or n.last_sunday - (7 * k)::INTEGER < a.churn_date + 7)
            -- no week ending before the first (integer division truncates: an account signed
            -- up since the last Sunday would get that week)
            and n.last_sunday - (7 * k)::INTEGER >= a.first_week_end
            -- a refresh computes the weeks from params.rebuild_from on and keeps the earlier
            and n.last_sunday - (7 * k)::INTEGER >= n.rebuild_from
    ),
    -- its complete weeks (named by their Sunday; the partial one by the as-of date) from
    -- params.rebuild_from on
    usage as (
        select w.account_id, w.week_end, w.events, w.active_users
        from account_weeks as w, anchor as n
        where w.week_end <= n.last_sunday and w.week_end >= n.rebuild_from
    )
select
    w.account_id,
    w.week_end,
    date_diff('day', w.signup_date, w.week_end) // 7 as age_weeks,
    coalesce(u.events, 0) as events,
    coalesce(u.active_users, 0) as active_users
from weeks as w
left join usage as u using (account_id, week_end)
