-- one row per value of the chosen breakdown: how many accounts (and customers now) hold it
with
    params as (select * from params),
    -- The accounts asked for, each with its group under $by (see accounts_by in macros.sql).
    scope as (select * from accounts_by($by, null, $account_ids))
select
    s."group",
    count(*) as accounts,
    count(*) filter (where s.churn_date is null or s.churn_date > p.as_of) as customers
from scope as s
cross join params as p
group by s."group"
-- Signup cohorts in time order, every other breakdown largest first.
order by case when $by like 'cohort_%' then "group" end, accounts desc, "group"
