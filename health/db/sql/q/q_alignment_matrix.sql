-- one row per (CSM sentiment, data tier) pair over active accounts: accounts and ARR
with
    health as (select * from mart_account_health),
    accounts as (
        select * from mart_account_overview
        where is_active
          and (len($account_ids::varchar[]) = 0
               or list_contains($account_ids::varchar[], account_id))
    ),
    latest_sentiment as (
        select account_id, arg_max(sentiment, occurred_at) as sentiment
        from stg_touchpoints where sentiment is not null group by all
    )
select coalesce(s.sentiment, 'no touchpoint') as csm_sentiment, h.tier,
    count(*) as accounts, coalesce(sum(a.arr), 0) as arr
from accounts as a
join health as h using (account_id)
left join latest_sentiment as s using (account_id)
group by all
order by all
