-- one row per group per window (trailing months, each calendar month): GRR and NRR
with
    params as (select * from params),
    accounts as (select * from stg_accounts),
    periods as (select * from int_kpi_revenue_periods),
    -- The accounts asked for, each with its group (see accounts_by in macros.sql).
    scope as (select * from accounts_by($by, $segments, $account_ids)),
    windows as (
        select 'trailing' as period, (p.as_of - to_months($months::integer))::date as start_date,
            p.as_of as end_date
        from params as p
        union all
        select 'month', m.month, least(m.month + interval 1 month, p.as_of)::date
        from params as p,
            (select (date_trunc('month', as_of) - to_months(k))::date as month
             from params, range(0, $months::integer) as r(k)) as m
    ),
    -- MRR of an account at a date: the periods running that day.
    points as (
        select w.period, w.start_date, w.end_date, s."group", s.account_id,
            coalesce(sum(r.mrr) filter (where r.start_date <= w.start_date
                and (r.end_date is null or r.end_date >= w.start_date)), 0) as mrr_start,
            coalesce(sum(r.mrr) filter (where r.start_date <= w.end_date
                and (r.end_date is null or r.end_date >= w.end_date)), 0) as mrr_end
        from windows as w
        cross join scope as s
        left join periods as r using (account_id)
        group by all
    ),
    source as (select coalesce(min(source), 'none') as source from periods)
select
    p."group",
    p.period,
    p.start_date,
    p.end_date,
    -- Only the accounts paying at the start: new customers' revenue is growth, not retention.
    sum(p.mrr_start) filter (where p.mrr_start > 0) as starting_mrr,
    coalesce(sum(p.mrr_end - p.mrr_start)
        filter (where p.mrr_start > 0 and p.mrr_end > p.mrr_start), 0) as expansion,
    coalesce(sum(p.mrr_start - p.mrr_end)
        filter (where p.mrr_start > p.mrr_end and p.mrr_end > 0), 0) as contraction,
    coalesce(sum(p.mrr_start) filter (where p.mrr_start > 0 and p.mrr_end = 0), 0) as churned_mrr,
    least((starting_mrr - contraction - churned_mrr) / starting_mrr, 1) as grr,
    (starting_mrr + expansion - contraction - churned_mrr) / starting_mrr as nrr,
    any_value(src.source) as source
from points as p
cross join source as src
group by all
order by p."group", p.period desc, p.start_date
