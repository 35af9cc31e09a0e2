-- one row per group: time to value (days from signup to the first "aha" event), median and p90
with
    milestones as (select * from int_journey_milestones),
    accounts as (select * from stg_accounts)
select
    case $group_by when 'segment' then a.segment when 'plan' then a.plan
        when 'region' then a.region
        when 'cohort_quarter' then strftime(a.signup_date, '%Y') || '-Q' || quarter(a.signup_date)
        else strftime(date_trunc('month', a.signup_date), '%Y-%m') end as "group",
    count(*) as accounts,
    count(m.ttv_days) as reached_value,
    median(m.ttv_days) as median_ttv_days,
    quantile_cont(m.ttv_days, 0.9) as p90_ttv_days,
    median(m.days_to_activate) as median_days_to_activate
from milestones as m
join accounts as a using (account_id)
where len($segments) = 0 or list_contains($segments, a.segment)
group by all
order by "group"
