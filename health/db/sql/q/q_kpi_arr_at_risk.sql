-- one row per group: active ARR, weighted by churn risk and on the at_risk tier
with
    params as (select * from params),
    accounts as (select * from stg_accounts),
    periods as (select * from int_kpi_revenue_periods),
    health as (select * from mart_account_health),
    -- The accounts asked for, each with its group (see accounts_by in macros.sql).
    scope as (select * from accounts_by($by, $segments, $account_ids)),
    -- Contracts running at the as-of date say the ARR then; accounts.arr is the export's today.
    contracted as (
        select r.account_id, 12 * sum(r.mrr) as arr
        from periods as r, params as p
        where r.start_date <= p.as_of and (r.end_date is null or r.end_date >= p.as_of)
        group by all
    ),
    active as (
        select s."group", s.account_id, coalesce(c.arr, s.arr, 0) as arr
        from scope as s left join contracted as c using (account_id)
        where s.churn_date is null
    )
select
    a."group",
    count(*) as active_accounts,
    sum(a.arr) as arr,
    sum(a.arr * h.churn_risk) as arr_at_risk,
    coalesce(sum(a.arr) filter (where h.tier = 'at_risk'), 0) as arr_at_risk_tier,
    count(*) filter (where h.tier = 'at_risk') as accounts_at_risk,
    null::varchar as note
from active as a
left join health as h using (account_id)
group by all
order by a."group"
