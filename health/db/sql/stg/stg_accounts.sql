-- one row per account that had signed up by the as-of date; a churn after it is not known yet
with accounts as (select * from accounts), params as (select * from params)
select
    a.account_id,
    coalesce(a.name, a.account_id) as name,
    a.signup_date,
    case when a.churn_date <= p.as_of then a.churn_date end as churn_date,
    coalesce(a.plan, 'Unknown') as plan,
    coalesce(a.segment, 'Unknown') as segment,
    coalesce(a.industry, 'Unknown') as industry,
    coalesce(a.region, 'Unknown') as region,
    a.arr,
    coalesce(a.csm_owner, 'Unassigned') as csm_owner,
    a.renewal_date,
    a.extra
from accounts as a, params as p
where a.signup_date <= p.as_of
