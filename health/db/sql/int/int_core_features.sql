-- one row per feature per week: accounts that had used it by week_end, and whether it is core then
with
    feature_weeks as (select * from int_feature_weeks),
    -- the weeks a refresh computes (the earlier are kept)
    week_ends as (
        select distinct week_end from int_account_weeks
        where week_end >= (select rebuild_from from params)
    ),
    first_use as (
        select account_id, feature, min(week_end) as first_week from feature_weeks group by all
    ),
    adopted as (select feature, first_week, count(*) as n from first_use group by all),
    started as (
        select first_week, count(*) as n
        from (select account_id, min(first_week) as first_week from first_use group by all)
        group by all
    ),
    adopters as (
        select w.week_end, a.feature, sum(a.n) as adopters
        from week_ends as w
        join adopted as a on a.first_week <= w.week_end
        group by all
    ),
    accounts as (
        select w.week_end, sum(s.n) as accounts
        from week_ends as w
        join started as s on s.first_week <= w.week_end
        group by all
    )
select
    f.week_end,
    f.feature,
    f.adopters,
    a.accounts,
    f.adopters / a.accounts as adoption,
    -- core: used at some point by at least half of the accounts that used anything, as of then
    f.adopters >= 0.5 * a.accounts as is_core
from adopters as f
join accounts as a using (week_end)
