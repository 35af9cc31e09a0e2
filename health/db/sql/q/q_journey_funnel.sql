-- one row per group per journey step: accounts reaching it in order, conversion, time, stalls
with
    steps as (select * from int_journey_steps),
    params as (select * from params),
    -- Each account's group under $group_by (see accounts_by in macros.sql).
    grouped as (
        select g."group" as grp, s.*
        from steps as s
        join accounts_by($group_by, null, $account_ids) as g using (account_id)
        where len($segments) = 0 or list_contains($segments, s.segment)
    ),
    counted as (
        select
            grp, step_order, step,
            count(*) as accounts,
            median(days_from_previous) as median_days_from_previous,
            quantile_cont(days_from_previous, 0.9) as p90_days_from_previous,
            -- Still customers whose furthest step is before adoption and was reached over
            -- $stall_days ago: stalled there. (Adopted accounts that never expand are not stalled.)
            count(*) filter (
                where is_furthest and is_customer and step_order < 4
                  and reached_on < p.as_of - $stall_days::INTEGER
            ) as stalled
        from grouped, params as p
        group by all
    )
select
    grp as "group",
    step_order,
    step,
    accounts,
    accounts / first_value(accounts) over g as share_of_signups,
    accounts / lag(accounts) over g as conversion,
    median_days_from_previous,
    p90_days_from_previous,
    stalled
from counted
window g as (partition by grp order by step_order)
order by "group", step_order
