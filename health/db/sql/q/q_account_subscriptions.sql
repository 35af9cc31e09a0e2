-- one row per contract span of one account (the same lines open; sums over them), newest first, with the change from the one before
select start_date, end_date, plan, mrr, seats, lines,
    mrr - lag(mrr) over w as mrr_change, seats - lag(seats) over w as seats_change
from stg_subscriptions where account_id = $account_id
window w as (order by start_date)
order by start_date desc
