-- one row per moment of truth detected up to the as-of date: the `moments` command's output
select account_id, moment, kind, detected_on, started_on, round(severity, 3) as severity, evidence
from moments
where detected_on <= (select as_of from params)
order by detected_on, account_id, kind
