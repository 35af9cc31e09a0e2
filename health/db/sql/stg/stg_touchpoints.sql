-- one row per CSM touchpoint by the as-of date
with touchpoints as (select * from touchpoints), params as (select * from params)
select
    t.account_id,
    t.occurred_at,
    coalesce(t.kind, 'other') as kind,
    t.sentiment,
    t.author,
    t.note
from touchpoints as t, params as p
where t.occurred_at < p.as_of + 1
