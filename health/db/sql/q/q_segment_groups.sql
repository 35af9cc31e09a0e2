-- one row per value of the chosen breakdown: how many accounts (and customers now) hold it
with
    params as (select * from params),
    accounts as (select * from stg_accounts),
    -- The accounts asked for, each with its value under the breakdown $by (an allow-listed name).
    scope as (
        select
            a.account_id,
            a.churn_date is null or a.churn_date > p.as_of as is_customer,
            coalesce(case $by
                when 'segment' then a.segment when 'plan' then a.plan
                when 'region' then a.region when 'industry' then a.industry
                when 'csm_owner' then a.csm_owner
                when 'cohort_month' then strftime(a.signup_date, '%Y-%m')
                when 'cohort_quarter'
                    then strftime(a.signup_date, '%Y') || '-Q' || quarter(a.signup_date)
            end, '(not set)') as "group"
        from accounts as a
        cross join params as p
        where $account_ids::varchar[] is null
           or list_contains($account_ids::varchar[], a.account_id)
    )
select
    "group",
    count(*) as accounts,
    count(*) filter (where is_customer) as customers
from scope
group by "group"
-- Signup cohorts in time order, every other breakdown largest first.
order by case when $by like 'cohort_%' then "group" end, accounts desc, "group"
