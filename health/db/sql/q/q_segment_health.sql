-- one row per group per health tier: scored accounts in it, their share, the group's median score
with
    accounts as (select * from stg_accounts),
    health as (select * from mart_account_health),
    -- The accounts asked for, each with its value under the breakdown $by (an allow-listed name).
    scope as (
        select
            a.account_id,
            coalesce(case $by
                when 'segment' then a.segment when 'plan' then a.plan
                when 'region' then a.region when 'industry' then a.industry
                when 'csm_owner' then a.csm_owner
                when 'cohort_month' then strftime(a.signup_date, '%Y-%m')
                when 'cohort_quarter'
                    then strftime(a.signup_date, '%Y') || '-Q' || quarter(a.signup_date)
            end, '(not set)') as "group"
        from accounts as a
        where $account_ids::varchar[] is null
           or list_contains($account_ids::varchar[], a.account_id)
    ),
    scored as (
        select s."group", h.tier, h.health_score,
            median(h.health_score) over (partition by s."group") as group_median
        from scope as s
        join health as h using (account_id)
        where list_contains($groups::varchar[], s."group") and h.tier is not null
    )
select
    "group",
    tier,
    count(*) as accounts,
    count(*) / sum(count(*)) over (partition by "group") as share,
    avg(health_score) as mean_score,
    any_value(group_median) as group_median_score
from scored
group by "group", tier
order by "group", case tier when 'healthy' then 0 when 'watch' then 1 when 'at_risk' then 2 else 3 end
