-- one row per account in the chosen groups: its group under the chosen breakdown
with
    accounts as (select * from stg_accounts),
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
    )
select account_id, "group"
from scope
where list_contains($groups::varchar[], "group")
order by "group", account_id
