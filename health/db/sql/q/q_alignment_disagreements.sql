-- one row per active account where the CSM's latest sentiment and the data's tier disagree
with
    health as (select * from mart_account_health),
    accounts as (
        select * from mart_account_overview
        where is_active
          and (len($account_ids::varchar[]) = 0
               or list_contains($account_ids::varchar[], account_id))
    ),
    latest_sentiment as (
        select account_id, arg_max(sentiment, occurred_at) as sentiment,
            max(occurred_at)::date as judged_on
        from stg_touchpoints where sentiment is not null group by all
    )
select
    a.account_id, a.name, a.segment, a.csm_owner, a.arr,
    s.sentiment as csm_sentiment, s.judged_on,
    h.tier, h.health_score, h.churn_risk, h.drivers,
    case when s.sentiment = 'green' and h.tier = 'at_risk' then 'CSM optimistic'
         when s.sentiment = 'red' and h.tier = 'healthy' then 'CSM pessimistic'
    end as disagreement,
    -- What the disagreement costs if the data is right: the ARR weighted by churn risk.
    a.arr * h.churn_risk as arr_at_risk
from accounts as a
join health as h using (account_id)
join latest_sentiment as s using (account_id)
where (s.sentiment = 'green' and h.tier = 'at_risk') or (s.sentiment = 'red' and h.tier = 'healthy')
order by a.arr * h.churn_risk desc nulls last, a.arr desc nulls last, a.account_id
