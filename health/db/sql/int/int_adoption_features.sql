-- one row per account per feature it used up to the as-of date: distinct users of it in the 28 days to the as-of date (0 when none) and whether the account used it then; the Segments page's feature adoption sums these rows (a user is an account's user, so counts add up over accounts), never the daily rows
with
    params as (select * from params),
    feature_weeks as (select * from int_feature_weeks),
    user_features as (select * from int_user_feature_days),
    -- every feature the account ever used, so one unused lately shows as 0 rather than missing
    used_ever as (select distinct account_id, feature from feature_weeks),
    -- per user first (null for events without one), then per feature: two plain group-bys
    feature_users as (
        select account_id, feature, user_id
        from user_features, params as p
        where day > p.as_of - 28 and day <= p.as_of
        group by all
    ),
    recent as (
        select account_id, feature, count(user_id) as users_28d
        from feature_users
        group by all
    )
select
    e.account_id,
    e.feature,
    r.account_id is not null as used_28d,
    coalesce(r.users_28d, 0) as users_28d
from used_ever as e
left join recent as r using (account_id, feature)
order by e.account_id, e.feature
