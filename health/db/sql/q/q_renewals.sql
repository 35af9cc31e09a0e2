-- one row per account active at $as_of whose commitment ends in [$window_from, $window_to]: its renewal date, ARR and kind (a term commitment or a monthly rollover) as known at $as_of
with
    settings as (
        select
            $as_of::date as as_of,
            $window_from::date as window_from,
            $window_to::date as window_to,
            -- accounts.renewal_date is an export-time snapshot: only the latest as-of may read it
            $use_snapshot::boolean as use_snapshot
    ),
    scored_week as (
        select max(f.week_end) as week_end
        from mart_account_features as f, settings as s
        where f.week_end <= s.as_of
    ),
    features as (
        select f.account_id, f.week_end, f.days_to_renewal, f.term_months, f.arr
        from mart_account_features as f
        join scored_week using (week_end)
    ),
    accounts as (select * from stg_accounts),
    renewals as (
        select
            f.account_id,
            f.week_end as scored_on,
            a.name,
            a.segment,
            a.csm_owner,
            -- The end of the current term, as the subscriptions tell it at that week; else the
            -- accounts file's renewal date, for the latest as-of only.
            case
                when f.days_to_renewal is not null then (f.week_end + f.days_to_renewal::integer)
                when s.use_snapshot then a.renewal_date
            end as renewal_date,
            case
                when f.days_to_renewal is not null then 'subscription term'
                when s.use_snapshot and a.renewal_date is not null then 'accounts.renewal_date'
            end as renewal_source,
            f.term_months,
            -- A monthly subscription "renews" every month: a rollover, not a commitment ending.
            -- A renewal date without a known term (the accounts file's) counts as a commitment.
            case
                when f.days_to_renewal is not null and f.term_months <= 1 then 'monthly'
                else 'term'
            end as kind,
            coalesce(f.arr, a.arr) as arr,
            a.churn_date
        from features as f
        join accounts as a using (account_id)
        cross join settings as s
    )
select r.*
from renewals as r, settings as s
where r.renewal_date between s.window_from and s.window_to
  and r.renewal_date > s.as_of
  and (r.churn_date is null or r.churn_date > s.as_of)
  and (len($account_ids::varchar[]) = 0 or list_contains($account_ids::varchar[], r.account_id))
order by r.renewal_date, r.account_id
