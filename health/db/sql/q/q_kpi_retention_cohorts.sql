-- one row per group per signup-month cohort per month since signup: logo and revenue kept
with
    params as (select * from params),
    accounts as (select * from stg_accounts),
    periods as (select * from int_kpi_revenue_periods),
    -- The accounts asked for, each with its group (see accounts_by in macros.sql).
    scope as (select * from accounts_by($by, $segments, $account_ids)),
    -- Each account is looked at on its monthly signup anniversaries up to the as-of date, so a
    -- cohort's last months hold only the accounts old enough to have reached them.
    ages as (
        select s."group", s.account_id, date_trunc('month', s.signup_date)::date as cohort,
            k.months_since, (s.signup_date + to_months(k.months_since))::date as on_date,
            s.churn_date is null or s.churn_date > on_date as is_customer,
            -- At risk of being lost by this anniversary: reached it, and a customer at the one
            -- before (all at signup). An account too young to reach it is censored, not lost.
            coalesce(lag(s.churn_date is null or s.churn_date > on_date)
                over (partition by s.account_id order by k.months_since), true) as at_risk
        from scope as s
        cross join params as p
        cross join range(0, date_diff('month', s.signup_date, p.as_of) + 1) as k(months_since)
        where on_date <= p.as_of
    ),
    -- Revenue starts with the first contract period, which may begin after signup (a trial).
    starts as (
        select s.account_id, greatest(s.signup_date, min(r.start_date)) as on_date
        from scope as s join periods as r using (account_id)
        group by s.account_id, s.signup_date
    ),
    mrr_at as (
        select d.account_id, d.on_date, coalesce(sum(r.mrr), 0) as mrr
        from (select account_id, on_date from ages union select * from starts) as d
        left join periods as r
            on r.account_id = d.account_id and r.start_date <= d.on_date
            and (r.end_date is null or r.end_date >= d.on_date)
        group by all
    ),
    source as (select coalesce(min(source), 'none') as source from periods),
    counted as (
        select
            a."group",
            a.cohort,
            a.months_since,
            count(*) as accounts,
            count(*) filter (where a.at_risk) as at_risk,
            count(*) filter (where a.is_customer) as retained,
            coalesce(sum(m0.mrr), 0) as start_mrr,
            coalesce(sum(m.mrr), 0) as mrr,
            sum(m.mrr) / nullif(sum(m0.mrr), 0) as revenue_retention,
            any_value(src.source) as source
        from ages as a
        cross join source as src
        left join mrr_at as m using (account_id, on_date)
        left join starts as s0 using (account_id)
        left join mrr_at as m0 on m0.account_id = a.account_id and m0.on_date = s0.on_date
        group by all
    )
select
    "group",
    cohort,
    months_since,
    accounts,
    at_risk,
    retained,
    -- Kaplan-Meier within the cohort: each month's share kept of those at risk, chained.
    product(coalesce(retained / nullif(at_risk, 0), 1)) over (
        partition by "group", cohort order by months_since
    ) as logo_retention,
    start_mrr,
    mrr,
    revenue_retention,
    source
from counted
order by "group", cohort, months_since
