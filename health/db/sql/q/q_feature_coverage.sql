-- one row: how many accounts each outcome can judge, and whether expansion is observable at all
with
    params as (select * from params),
    accounts as (select * from stg_accounts),
    -- Contract history is loaded when the refresh's revenue periods come from it: the same
    -- answer as counting stg_subscriptions, a view that costs a scan of every line per query.
    periods as (select * from int_kpi_revenue_periods),
    scope as (
        select a.account_id, a.signup_date
        from accounts as a
        where $account_ids::varchar[] is null
           or list_contains($account_ids::varchar[], a.account_id)
    )
select
    count(*) as accounts,
    count(*) filter (where s.signup_date + $retention_days::integer <= p.as_of)
        as judged_retained,
    count(*) filter (where s.signup_date + $expansion_days::integer <= p.as_of)
        as judged_expanded,
    exists (select 1 from periods where source = 'subscriptions') as has_subscriptions,
    any_value(p.as_of) as as_of
from scope as s
cross join params as p
