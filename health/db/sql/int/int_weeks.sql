-- one row per account per calendar week (ISO, Monday to Sunday, named by its last day: the Sunday, or the as-of date for the partial week holding it), signup to churn or as-of
with accounts as (select * from stg_accounts), params as (select * from params),
    anchor as (
        select p.as_of, p.rebuild_from, date_trunc('week', p.as_of)::date as this_monday
        from params as p
    ),
    weeks as (
        select
            a.account_id,
            a.signup_date,
            (n.this_monday - (7 * k)::INTEGER)::date as week_start,
            least((n.this_monday - (7 * k)::INTEGER + 6)::date, n.as_of) as week_end
        from accounts as a, anchor as n,
            range(0, greatest(date_diff('day', date_trunc('week', a.signup_date)::date, n.this_monday) // 7 + 1, 0)) as r(k)
        where (a.churn_date is null or (n.this_monday - (7 * k)::INTEGER)::date <= a.churn_date)
            -- a refresh computes the weeks from params.rebuild_from on and keeps the earlier
            and (n.this_monday - (7 * k)::INTEGER)::date >= n.rebuild_from
    )
select
    account_id,
    week_end,
    date_diff('day', signup_date, week_end) // 7 as age_weeks,
    week_start,
    date_diff('day', week_start, week_end)::INTEGER + 1 as days_in_week,
    date_diff('day', week_start, week_end) < 6 as is_partial
from weeks
