-- one row per account matching the filters (empty list = no filter), biggest ARR first
select *
from mart_account_overview
where (len($segments) = 0 or list_contains($segments, segment))
  and (len($owners) = 0 or list_contains($owners, csm_owner))
  and (len($plans) = 0 or list_contains($plans, plan))
  and (len($regions) = 0 or list_contains($regions, region))
  and ($search = '' or contains(lower(name), $search) or contains(lower(account_id), $search))
  and (not $active_only or is_active)
order by arr desc nulls last, account_id
