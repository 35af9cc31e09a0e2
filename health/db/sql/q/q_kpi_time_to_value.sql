-- one row per group per signup-month cohort, and per group (cohort null): days to value
with
    accounts as (select * from stg_accounts),
    milestones as (select * from int_journey_milestones),
    -- The accounts asked for, each with its group (see accounts_by in macros.sql).
    scope as (select * from accounts_by($by, $segments, $account_ids)),
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
