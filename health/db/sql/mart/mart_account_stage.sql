-- one row per account: its current journey stage, read from its milestones and its health tier
with
    milestones as (select * from int_journey_milestones),
    accounts as (select * from stg_accounts),
    health as (select * from mart_account_health),
    params as (select * from params)
select
    m.*,
    case
        when a.churn_date is not null then 'churned'
        when h.tier = 'at_risk' then 'at_risk'
        when m.advocate_on > p.as_of - $recent_days::INTEGER then 'advocate'
        when m.expanding_on > p.as_of - $recent_days::INTEGER then 'expanding'
        when m.adopted_on is not null then 'adopted'
        when m.activated_on is not null then 'activated'
        when m.first_value_on is not null then 'first_value'
        when m.onboarding_on is not null then 'onboarding'
        else 'signed_up'
    end as stage
from milestones as m
join accounts as a using (account_id)
cross join params as p
left join health as h using (account_id)
