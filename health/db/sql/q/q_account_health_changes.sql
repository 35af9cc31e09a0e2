-- one row per health component of one account: its score now and $weeks weeks before, and the move
with
    history as (select * from mart_health_history where account_id = $account_id),
    now as (select * from history order by week_end desc limit 1),
    before as (
        select h.* from history as h, now as n
        where h.week_end <= n.week_end - (7 * $weeks)::INTEGER
        order by h.week_end desc limit 1
    ),
    pairs as (
        select 'Health score' as component, n.health_score as now, b.health_score as before
        from now as n left join before as b on true
        union all select 'Engagement', n.engagement, b.engagement from now n left join before b on true
        union all select 'Adoption', n.adoption, b.adoption from now n left join before b on true
        union all select 'Relationship', n.relationship, b.relationship
            from now n left join before b on true
        union all select 'Support', n.support, b.support from now n left join before b on true
        union all select 'Contract', n.contract, b.contract from now n left join before b on true
    )
select component, before, now, now - before as change
from pairs
where now is not null or before is not null
