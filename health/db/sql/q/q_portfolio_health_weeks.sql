-- one row per week per tier: accounts and ARR in that tier that week (ARR: today's contract)
select h.week_end, h.tier, count(*) as accounts, coalesce(sum(a.arr), 0) as arr
from mart_health_history as h
join stg_accounts as a using (account_id)
where len($account_ids::varchar[]) = 0 or list_contains($account_ids::varchar[], h.account_id)
group by all
order by h.week_end, h.tier
