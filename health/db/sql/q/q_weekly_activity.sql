-- one row per calendar week: events and accounts with any activity, over a set of accounts (is_partial: the week to the as-of date, not over yet)
select
    week_end,
    any_value(is_partial) as is_partial,
    sum(events) as events,
    count(*) filter (where events > 0) as active_accounts,
    count(*) as accounts
from int_account_weeks
where list_contains($account_ids, account_id) and weeks_ago < $weeks
group by week_end
order by week_end
