-- one row per account active at the as-of date: the `score` command's output
select
    h.account_id,
    round(h.health_score, 1) as health_score,
    round(h.churn_risk, 4) as churn_risk,
    h.tier,
    coalesce(s.stage, 'unknown') as stage,
    h.drivers,
    -- after the contract's columns: what carries the score, and why
    h.score_source,
    (select json_extract_string(card::JSON, '$.score_note') from model_card) as score_note
from mart_account_health as h
left join mart_account_stage as s using (account_id)
order by h.churn_risk desc, h.account_id
