-- one row per account per week (Sundays, and the as-of date) with activity in the 28 days to week_end: features used, how many are core, and the share of events outside the core
with
    feature_weeks as (select * from int_feature_weeks),
    core as (select * from int_core_features),
    params as (select * from params),
    -- Sundays: the 28 days to one are its calendar week and the three before
    used as (
        select account_id, feature, (week_end + (7 * k)::integer)::date as week_end, events
        from feature_weeks, range(0, 4) as r(k), params as p
        where feature_weeks.week_end < p.as_of and week_end + (7 * k)::integer < p.as_of
            -- the weeks a refresh computes (the earlier are kept)
            and feature_weeks.week_end >= p.rebuild_from - 28
            and week_end + (7 * k)::integer >= p.rebuild_from
    ),
    per_feature as (
        select account_id, week_end, feature, sum(events) as events from used group by all
        union all
        -- the as-of date: exactly the 28 days to it, from the daily rows
        select e.account_id, p.as_of as week_end, e.feature, sum(e.events) as events
        from int_event_days as e, params as p
        where e.day > p.as_of - 28 and e.day <= p.as_of
        group by all
    ),
    core_count as (
        select week_end, count(*) filter (where is_core) as core_features from core group by all
    )
select
    u.account_id,
    u.week_end,
    count(*) as features_28d,
    count(*) filter (where c.is_core) as core_features_28d,
    any_value(n.core_features) as core_features,
    -- advanced use: the share of activity in features most accounts never touched
    sum(u.events) filter (where not coalesce(c.is_core, false)) / sum(u.events) as non_core_share_28d
from per_feature as u
left join core as c using (week_end, feature)
left join core_count as n using (week_end)
group by all
