-- one row per group per calendar month: active at its start, churned in it, churn rates
with
    params as (select * from params),
    -- The accounts asked for, each with its group (see accounts_by in macros.sql).
    scope as (select * from accounts_by($by, $segments, $account_ids)),
    months as (
        select (date_trunc('month', p.as_of) - to_months(k))::date as month
        from params as p, range(0, $months::integer) as r(k)
    ),
    groups as (select distinct "group" from scope)
select
    g."group",
    m.month,
    m.month + interval 1 month <= p.as_of + 1 as complete,
    count(s.account_id) as active_start,
    count(s.account_id) filter (where s.churn_date < m.month + interval 1 month) as churned,
    churned / nullif(active_start, 0) as churn_rate,
    -- The yearly churn if this month's rate went on for twelve months.
    1 - power(1 - churn_rate, 12) as annualised_churn
from groups as g
cross join months as m
cross join params as p
-- Active at the start = a customer at the end of the day before (the contract's "active at").
left join scope as s
    on s."group" = g."group" and s.signup_date < m.month
    and (s.churn_date is null or s.churn_date >= m.month)
group by all
order by g."group", m.month
