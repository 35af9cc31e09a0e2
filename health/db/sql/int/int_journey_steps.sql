-- one row per account per journey step reached in order (a strict funnel: every earlier step too)
with
    milestones as (select * from int_journey_milestones),
    accounts as (select * from stg_accounts),
    reached as (
        select
            m.account_id, a.segment, a.plan, a.region,
            a.churn_date is null as is_customer,
            strftime(date_trunc('month', a.signup_date), '%Y-%m') as cohort_month,
            strftime(a.signup_date, '%Y') || '-Q' || quarter(a.signup_date) as cohort_quarter,
            s.step_order, s.step, s.reached_on
        from milestones as m
        join accounts as a using (account_id),
        lateral (
            select * from (values
                (0, 'Signed up', m.signup_date),
                (1, 'Onboarding', m.onboarding_on),
                (2, 'First value', m.first_value_on),
                (3, 'Activated', m.activated_on),
                (4, 'Adopted', m.adopted_on),
                (5, 'Expanding', m.expanding_on),
                (6, 'Advocate', m.advocate_on)
            ) as v(step_order, step, reached_on)
        ) as s
        where s.reached_on is not null
    ),
    in_order as (
        select *,
            count(*) over (partition by account_id order by step_order) = step_order + 1 as strict
        from reached
    )
select
    account_id, segment, plan, region, is_customer, cohort_month, cohort_quarter,
    step_order, step, reached_on,
    greatest(date_diff('day', lag(reached_on) over w, reached_on), 0) as days_from_previous,
    step_order = max(step_order) over (partition by account_id) as is_furthest
from in_order
where strict
window w as (partition by account_id order by step_order)
