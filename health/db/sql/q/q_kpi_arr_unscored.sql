-- one row per group: active ARR, when no health scores exist to weigh it by
with
    params as (select * from params),
    periods as (select * from int_kpi_revenue_periods),
    -- The accounts asked for, each with its group (see accounts_by in macros.sql).
    scope as (select * from accounts_by($by, $segments, $account_ids)),
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
    "group",
    count(*) as active_accounts,
    sum(arr) as arr,
    null::double as arr_at_risk,
    null::double as arr_at_risk_tier,
    null::bigint as accounts_at_risk,
    $note::varchar as note
from active
group by all
order by "group"
