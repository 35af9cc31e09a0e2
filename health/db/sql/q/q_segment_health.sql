-- one row per group per health tier: scored accounts in it, their share, the group's median score
with
    health as (select * from mart_account_health),
    -- The accounts asked for, each with its group under $by (see accounts_by in macros.sql).
    scope as (select * from accounts_by($by, null, $account_ids)),
    scored as (
        select s."group", h.tier, h.health_score,
            median(h.health_score) over (partition by s."group") as group_median
        from scope as s
        join health as h using (account_id)
        where list_contains($groups::varchar[], s."group") and h.tier is not null
    )
select
    "group",
    tier,
    count(*) as accounts,
    count(*) / sum(count(*)) over (partition by "group") as share,
    avg(health_score) as mean_score,
    any_value(group_median) as group_median_score
from scored
group by "group", tier
order by "group", case tier when 'healthy' then 0 when 'watch' then 1 when 'at_risk' then 2 else 3 end
