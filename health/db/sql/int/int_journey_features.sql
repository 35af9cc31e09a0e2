-- one row per product feature: how widely it is used, and whether it is core or marks first value
with
    feature_weeks as (select * from int_feature_weeks),
    accounts as (select count(*) as n from stg_accounts),
    usage as (
        select feature, count(distinct account_id) as accounts, sum(events)::BIGINT as events
        from feature_weeks group by all
    ),
    ranked as (
        select u.*, u.accounts / greatest(a.n, 1) as account_share,
            row_number() over (order by u.events desc, u.feature) as usage_rank
        from usage as u, accounts as a
    )
select
    feature,
    accounts,
    events,
    account_share,
    case when len($core_features) > 0 then list_contains($core_features, feature)
        else account_share >= $min_account_share end as is_core,
    -- The single most used core feature is usually a login or a page view: activity, not value.
    case when len($value_features) > 0 then list_contains($value_features, feature)
        else account_share >= $min_account_share and usage_rank > 1 end as is_value
from ranked
