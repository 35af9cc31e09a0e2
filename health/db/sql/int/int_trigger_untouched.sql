-- one row per active watch or at-risk account without a CSM touchpoint for touch_days: a trigger episode
-- Same columns in every int_trigger_* file; int_action_triggers.sql stacks them.
with
    params as (select * from params),
    accounts as (select * from stg_accounts),
    health as (select * from mart_account_health),
    touchpoints as (select * from stg_touchpoints),
    live as (select * from accounts where churn_date is null),
    -- no_touchpoint: no CSM touchpoint for touch_days on an account whose health slips
    last_touch as (
        select account_id, max(occurred_at)::date as day, arg_max(kind, occurred_at) as kind
        from touchpoints group by all
    ),
    quiet as (
        select
            a.account_id,
            coalesce(t.day, a.signup_date) as last_seen,
            t.kind
        from live as a
        join health as h using (account_id)
        left join last_touch as t using (account_id)
        where list_contains($touch_tiers, h.tier)
            and exists (select 1 from touchpoints)
    ),
    untouched as (
        select
            q.account_id,
            'risk' as reason_kind,
            'no_touchpoint' as reason,
            (q.last_seen + 1)::date as started_on,
            (q.last_seen + $touch_days::integer)::date as triggered_on,
            least(date_diff('day', q.last_seen, p.as_of) / 180, 1) as severity,
            case
                when q.kind is null then format(
                    'no CSM touchpoint since signup ({:d} days)',
                    date_diff('day', q.last_seen, p.as_of)
                )
                else format(
                    'no CSM touchpoint for {:d} days (the last: {} on {})',
                    date_diff('day', q.last_seen, p.as_of), q.kind,
                    strftime(q.last_seen, '%-d %b %Y')
                )
            end as evidence,
            true as active
        from quiet as q
        cross join params as p
        where q.last_seen + $touch_days::integer <= p.as_of
    )
select * from untouched
