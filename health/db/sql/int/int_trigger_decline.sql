-- one row per active account whose weekly events fell by decline_share (beyond the whole base's dip): a trigger episode
-- Same columns in every int_trigger_* file; int_action_triggers.sql stacks them.
with
    params as (select * from params),
    accounts as (select * from stg_accounts),
    account_days as (select * from int_account_days),
    live as (select * from accounts where churn_date is null),
    -- usage_decline: Monday-to-Sunday weeks complete by the as-of date, the last 60 at most
    calendar_weeks as (
        select a.account_id, r.week_start::date as week_start
        from live as a
        cross join params as p
        cross join lateral (
            select unnest(range(
                greatest(
                    date_trunc('week', a.signup_date),
                    date_trunc('week', p.as_of - 6) - interval 60 week
                ),
                date_trunc('week', p.as_of - 6) + interval 1 week,
                interval 1 week
            )) as week_start
        ) as r
    ),
    -- the days of those weeks only (the join below reads no other)
    day_weeks as (
        select account_id, date_trunc('week', day)::date as week_start, sum(events) as events
        from account_days
        where day >= (select date_trunc('week', as_of - 6) - interval 60 week from params)
        group by all
    ),
    weekly as (
        select w.account_id, w.week_start, coalesce(d.events, 0) as events
        from calendar_weeks as w
        left join day_weeks as d using (account_id, week_start)
    ),
    rolling as (
        select
            account_id,
            week_start,
            sum(events) over recent as events_4w,
            sum(events) over before as events_prev_4w,
            count(*) over before as weeks_before
        from weekly
        window
            recent as (partition by account_id order by week_start
                rows between 3 preceding and current row),
            before as (partition by account_id order by week_start
                rows between 7 preceding and 4 preceding)
    ),
    -- everybody's events in the same weeks: a holiday dip shared by all is not one account's
    -- decline, so an account must fall `decline_share` further than the whole base did
    market as (
        select
            week_start,
            -- too few accounts to tell a shared dip from their own declines: no adjustment
            case when count(*) >= $decline_market_accounts
                then sum(events_4w) / nullif(sum(events_prev_4w), 0) end as market_ratio
        from rolling
        where weeks_before = 4
        group by all
    ),
    declining as (
        select
            r.*,
            coalesce(
                r.weeks_before = 4
                and r.events_prev_4w >= $decline_min_events
                and r.events_4w
                    <= (1 - $decline_share) * r.events_prev_4w
                        * least(coalesce(m.market_ratio, 1), 1),
                false
            ) as declining
        from rolling as r
        left join market as m using (week_start)
    ),
    decline_runs as (
        select
            account_id,
            max(week_start) as last_week,
            max(week_start) filter (where not declining) as last_ok
        from declining group by all
    ),
    decline as (
        select
            d.account_id,
            'risk' as reason_kind,
            'usage_decline' as reason,
            min(d.week_start) as started_on,
            (min(d.week_start) + 6)::date as triggered_on,
            least(1 - arg_max(d.events_4w / d.events_prev_4w, d.week_start), 1) as severity,
            format(
                'product events down {:d} % over the last 4 complete weeks ({:d} against {:d} '
                'the 4 weeks before), declining since the week of {}',
                round(100 * (1 - arg_max(d.events_4w / d.events_prev_4w, d.week_start)))::integer,
                arg_max(d.events_4w, d.week_start)::bigint,
                arg_max(d.events_prev_4w, d.week_start)::bigint,
                strftime(min(d.week_start), '%-d %b %Y')
            ) as evidence,
            true as active
        from declining as d
        join decline_runs as r using (account_id)
        where d.declining
            and (r.last_ok is null or d.week_start > r.last_ok)
            and (r.last_ok is null or r.last_ok < r.last_week)
        group by d.account_id
    )
select * from decline
