-- one row per trait value (segment, industry, plan, region): its share among the whole base,
-- among the accounts product data calls ideal, and among those CSMs rate green
with
    accounts as (select * from mart_account_overview),
    stage as (select * from mart_account_stage),
    health as (select * from mart_account_health),
    latest_sentiment as (
        select account_id, arg_max(sentiment, occurred_at) as sentiment
        from stg_touchpoints where sentiment is not null group by all
    ),
    flagged as (
        select a.account_id, a.segment, a.industry, a.plan, a.region,
            -- Product's ideal: still a customer, healthy, and adopted or beyond.
            a.is_active and h.tier = 'healthy'
                and s.stage in ('adopted', 'expanding', 'advocate') as product_ideal,
            a.is_active and ls.sentiment = 'green' as cs_ideal
        from accounts as a
        left join health as h using (account_id)
        left join stage as s using (account_id)
        left join latest_sentiment as ls using (account_id)
    ),
    traits as (
        select account_id, product_ideal, cs_ideal, t.trait, t.value
        from flagged,
        lateral (select * from (values ('segment', segment), ('industry', industry),
            ('plan', plan), ('region', region)) as v(trait, value)) as t
    )
select
    trait, value,
    count(*) / sum(count(*)) over (partition by trait) as share_all,
    count(*) filter (where product_ideal)
        / nullif(sum(count(*) filter (where product_ideal)) over (partition by trait), 0)
        as share_product_ideal,
    count(*) filter (where cs_ideal)
        / nullif(sum(count(*) filter (where cs_ideal)) over (partition by trait), 0)
        as share_cs_ideal,
    count(*) filter (where product_ideal) as product_ideal_accounts,
    count(*) filter (where cs_ideal) as cs_ideal_accounts,
    count(*) filter (where product_ideal and cs_ideal) as both_accounts
from traits
group by all
order by trait, share_all desc
