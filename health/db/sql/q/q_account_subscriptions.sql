-- one row per contract period of one account, newest first, with the change from the one before
select start_date, end_date, plan, mrr, seats,
    mrr - lag(mrr) over w as mrr_change, seats - lag(seats) over w as seats_change
from stg_subscriptions where account_id = $account_id
window w as (order by start_date)
order by start_date desc
