-- one row per support ticket opened by the as-of date; a close after it is not known yet
with tickets as (select * from tickets), params as (select * from params)
select
    t.ticket_id,
    t.account_id,
    t.opened_at,
    case when t.closed_at < p.as_of + 1 then t.closed_at end as closed_at,
    coalesce(t.priority, 'normal') as priority,
    t.status,
    t.topic,
    case when t.closed_at < p.as_of + 1 then t.csat end as csat
from tickets as t, params as p
where t.opened_at < p.as_of + 1
