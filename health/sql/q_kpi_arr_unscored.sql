-- one row per group: active ARR, when no health scores exist to weigh it by
with
    params as (select * from params),
    accounts as (select * from stg_accounts),
    periods as (select * from int_kpi_revenue_periods),
    -- The accounts asked for, each with the value it is grouped by ('All' without a breakdown).
    scope as (
        select
            a.*,
            case $by
                when 'segment' then a.segment when 'plan' then a.plan
                when 'industry' then a.industry when 'region' then a.region
                when 'csm_owner' then a.csm_owner else 'All'
            end as "group"
        from accounts as a
        where ($segments::varchar[] is null or list_contains($segments::varchar[], a.segment))
          and ($account_ids::varchar[] is null
               or list_contains($account_ids::varchar[], a.account_id))
    ),
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
