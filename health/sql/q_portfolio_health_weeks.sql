-- one row per week per tier: accounts and ARR in that tier that week
select h.week_end, h.tier, count(*) as accounts, sum(a.arr) as arr
from mart_health_history as h
join stg_accounts as a using (account_id)
where (len($account_ids) = 0 or list_contains($account_ids, h.account_id))
group by all
order by h.week_end, h.tier
