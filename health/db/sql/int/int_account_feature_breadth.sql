-- one row per account per week with activity in the 28 days to week_end: features used, how many are core, and the share of events outside the core
with
    feature_weeks as (select * from int_feature_weeks),
    core as (select * from int_core_features),
    used as (
        select account_id, feature, (week_end + (7 * k)::integer)::date as week_end, events
        from feature_weeks, range(0, 4) as r(k)
    ),
    per_feature as (
        select account_id, week_end, feature, sum(events) as events from used group by all
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
