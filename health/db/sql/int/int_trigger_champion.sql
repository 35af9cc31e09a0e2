-- one row per active account whose every active champion is silent for champion_days: a trigger episode
-- Same columns in every int_trigger_* file; int_action_triggers.sql stacks them.
with
    params as (select * from params),
    accounts as (select * from stg_accounts),
    -- each user's last active day (one row per account and user with a day in int_user_days,
    -- kept up to date by the moments step): not the ~9M daily rows at 4,000 accounts
    activity as (select * from int_moment_user_activity),
    last_seen as (select user_id, max(last_day) as day from activity group by all),
    users as (select * from stg_users),
    live as (select * from accounts where churn_date is null),
    -- champion_inactive: every active champion silent in the product for champion_days
    champions as (
        select u.account_id, u.user_id, u.name, u.created_at
        from users as u
        join live using (account_id)
        where u.is_champion and u.deactivated_at is null
    ),
    champion_seen as (
        select c.account_id, c.user_id, c.name, max(d.day) as last_day, min(c.created_at) as created
        from champions as c
        left join last_seen as d using (user_id)
        group by all
    ),
    champion_quiet as (
        select
            c.account_id,
            max(coalesce(c.last_day, c.created::date, a.signup_date)) as last_seen,
            arg_max(c.name, coalesce(c.last_day, c.created::date, a.signup_date)) as name,
            max(c.last_day) is null as never
        from champion_seen as c
        join live as a using (account_id)
        -- only accounts whose events name users: without them nobody looks active
        where c.account_id in (select account_id from activity)
        group by all
    ),
    champion as (
        select
            c.account_id,
            'risk' as reason_kind,
            'champion_inactive' as reason,
            (c.last_seen + 1)::date as started_on,
            (c.last_seen + $champion_days::integer)::date as triggered_on,
            least(date_diff('day', c.last_seen, p.as_of) / 60, 1) as severity,
            case
                when c.never then format(
                    'champion {} has not used the product since joining ({:d} days)',
                    c.name, date_diff('day', c.last_seen, p.as_of)
                )
                else format(
                    'champion {} has not used the product for {:d} days (last active {})',
                    c.name, date_diff('day', c.last_seen, p.as_of),
                    strftime(c.last_seen, '%-d %b %Y')
                )
            end as evidence,
            true as active
        from champion_quiet as c
        cross join params as p
        where c.last_seen + $champion_days::integer <= p.as_of
    )
select * from champion
