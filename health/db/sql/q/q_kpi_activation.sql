-- one row per group per signup-month cohort: signups, activated within N days and at all
with
    params as (select * from params),
    accounts as (select * from stg_accounts),
    milestones as (select * from int_journey_milestones),
    -- The accounts asked for, each with its group (see accounts_by in macros.sql).
    scope as (select * from accounts_by($by, $segments, $account_ids)),
    cohorts as (
        select
            s."group",
            date_trunc('month', s.signup_date)::date as cohort,
            -- Only accounts whose whole window has passed can tell "not within N days" from
            -- "not yet": younger ones count in the overall rate only.
            s.signup_date + $days::integer <= p.as_of as window_closed,
            m.days_to_activate
        from scope as s
        cross join params as p
        left join milestones as m using (account_id)
    )
select
    "group",
    cohort,
    $days::integer as days,
    count(*) as signups,
    count(*) filter (where window_closed) as eligible,
    count(*) filter (where window_closed and days_to_activate <= $days) as activated_within,
    activated_within / nullif(eligible, 0) as activation_rate,
    count(days_to_activate) as activated,
    activated / signups as activation_rate_overall
from cohorts
group by all
order by "group", cohort
