-- one row per feature per outcome: adopters (used it in their first days) and the rest, and how
-- many of each reached the outcome, counting only accounts old enough to be judged
with
    params as (select * from params),
    accounts as (select * from stg_accounts),
    -- Account x event x day: half the rows of user x feature x day, the same first days.
    events as (select * from int_event_days),
    milestones as (select * from int_journey_milestones),
    -- Contract history is loaded when the refresh's revenue periods come from it (the same
    -- answer as stg_subscriptions, a view that costs a scan of every line per query).
    periods as (select * from int_kpi_revenue_periods),
    scope as (
        select a.account_id, a.signup_date, a.churn_date, m.expanding_on
        from accounts as a
        left join milestones as m using (account_id)
        where $account_ids::varchar[] is null
           or list_contains($account_ids::varchar[], a.account_id)
    ),
    -- Adoption: the features an account used in its first $early_days days.
    -- The first day each account used each feature: a narrow table, so the join is small.
    firsts as (
        select account_id, feature, min(day) as first_day from events group by all
    ),
    early as (
        select f.account_id, f.feature
        from firsts as f
        join scope as s using (account_id)
        where f.first_day < s.signup_date + $early_days::integer
    ),
    features as (select distinct feature from early),
    -- Each account once per outcome it is old enough to be judged on. Expansion is only
    -- observable from subscriptions (MRR or seats growing); without them it is left out.
    judged as (
        select s.account_id, 'retained' as outcome,
            s.churn_date is null or s.churn_date > s.signup_date + $retention_days::integer
                as reached
        from scope as s, params as p
        where s.signup_date + $retention_days::integer <= p.as_of
        union all
        select s.account_id, 'expanded' as outcome,
            coalesce(s.expanding_on <= s.signup_date + $expansion_days::integer, false) as reached
        from scope as s, params as p
        where s.signup_date + $expansion_days::integer <= p.as_of
          and exists (select 1 from periods where source = 'subscriptions')
    )
select
    f.feature,
    j.outcome,
    count(e.account_id) as adopters,
    count(e.account_id) filter (where j.reached) as adopters_reached,
    count(*) filter (where e.account_id is null) as others,
    count(*) filter (where e.account_id is null and j.reached) as others_reached
from features as f
cross join judged as j
left join early as e on e.account_id = j.account_id and e.feature = f.feature
group by all
order by j.outcome desc, f.feature
