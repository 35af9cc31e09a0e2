-- one row per week: events and accounts with any activity, over a set of accounts
select
    week_end,
    sum(events) as events,
    count(*) filter (where events > 0) as active_accounts,
    count(*) as accounts
from int_account_weeks
where list_contains($account_ids, account_id) and weeks_ago < $weeks
group by week_end
order by week_end
