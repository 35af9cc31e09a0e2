-- one row per calendar week per tier: accounts and ARR in that tier that week (ARR: today's contract; is_partial: the as-of date's week, to date)
select h.week_end, h.tier, count(*) as accounts, coalesce(sum(a.arr), 0) as arr,
    any_value(h.week_end = p.as_of and isodow(p.as_of) <> 7) as is_partial
from mart_health_history as h
join stg_accounts as a using (account_id)
cross join params as p
where len($account_ids::varchar[]) = 0 or list_contains($account_ids::varchar[], h.account_id)
group by h.week_end, h.tier
order by h.week_end, h.tier
