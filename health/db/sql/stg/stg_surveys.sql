-- one row per NPS answer given by the as-of date, with its NPS category
with surveys as (select * from surveys), params as (select * from params)
select
    s.account_id,
    s.user_id,
    s.responded_at,
    s.score,
    case when s.score >= 9 then 'promoter' when s.score >= 7 then 'passive' else 'detractor' end
        as category,
    s.comment
from surveys as s, params as p
where s.responded_at < p.as_of + 1
