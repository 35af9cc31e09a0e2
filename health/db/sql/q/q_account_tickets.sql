-- one row per support ticket of one account, newest first
select ticket_id, opened_at, closed_at, priority, status, topic, csat
from stg_tickets where account_id = $account_id
order by opened_at desc
