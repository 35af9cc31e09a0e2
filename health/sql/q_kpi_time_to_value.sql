-- one row per group per signup-month cohort, and per group (cohort null): days to value
with
    accounts as (select * from stg_accounts),
    milestones as (select * from int_journey_milestones),
    -- The accounts asked for, each with the value it is grouped by ('All' without a breakdown).
    scope as (
        select
            a.*,
            case $by
                when 'segment' then a.segment when 'plan' then a.plan
                when 'industry' then a.industry when 'region' then a.region
                when 'csm_owner' then a.csm_owner else 'All'
            end as "group"
        from accounts as a
        where ($segments::varchar[] is null or list_contains($segments::varchar[], a.segment))
          and ($account_ids::varchar[] is null
               or list_contains($account_ids::varchar[], a.account_id))
    ),
    ttv as (
        select s."group", date_trunc('month', s.signup_date)::date as cohort, m.ttv_days
        from scope as s left join milestones as m using (account_id)
    )
select
    "group",
    cohort,
    count(*) as accounts,
    count(ttv_days) as reached,
    reached / accounts as reached_share,
    median(ttv_days) as median_days,
    quantile_cont(ttv_days, 0.9) as p90_days
from ttv
group by grouping sets (("group", cohort), ("group"))
order by "group", cohort nulls first
