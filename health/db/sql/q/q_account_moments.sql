-- one row per moment of truth of one account detected by the as-of date, newest first
select moment, kind, started_on, detected_on, severity, evidence, guidance
from moments
where account_id = $account_id and detected_on <= (select as_of from params)
order by detected_on desc
