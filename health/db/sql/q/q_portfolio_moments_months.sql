-- one row per month per moment type: moments detected that month
select date_trunc('month', detected_on)::date as month, moment, count(*) as moments
from moments
where detected_on <= (select as_of from params)
  and (len($account_ids::varchar[]) = 0 or list_contains($account_ids::varchar[], account_id))
group by all
order by month, moment
