-- one row per trait value (segment, industry, plan, region): its share among the whole base,
-- among the accounts product data calls ideal, and among those CSMs rate green
with
    accounts as (
        select * from mart_account_overview
        where len($account_ids::varchar[]) = 0
           or list_contains($account_ids::varchar[], account_id)
    ),
    milestones as (select * from int_journey_milestones),
    health as (select * from mart_account_health),
    latest_sentiment as (
        select account_id, arg_max(sentiment, occurred_at) as sentiment
        from stg_touchpoints where sentiment is not null group by all
    ),
    flagged as (
        select a.account_id, a.segment, a.industry, a.plan, a.region,
            -- Product's ideal: retained (still a customer, healthy in the data) and grown into
            -- the product (adopted) or the contract (expanding). Read from the milestones, not
            -- mart_account_stage, whose at_risk stage would hide an adopted account's stage.
            coalesce(a.is_active and h.tier = 'healthy'
                and (m.adopted_on is not null or m.expanding_on is not null), false)
                as product_ideal,
            coalesce(a.is_active and ls.sentiment = 'green', false) as cs_ideal
        from accounts as a
        left join health as h using (account_id)
        left join milestones as m using (account_id)
        left join latest_sentiment as ls using (account_id)
    ),
    traits as (
        select account_id, product_ideal, cs_ideal, t.trait, coalesce(t.value, '(blank)') as value
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
    count(*) as accounts,
    count(*) filter (where product_ideal) as product_ideal_accounts,
    count(*) filter (where cs_ideal) as cs_ideal_accounts,
    count(*) filter (where product_ideal and cs_ideal) as both_accounts
from traits
group by trait, value
order by trait, share_all desc, value
