-- one row per calendar week: events and accounts with any activity, over a set of accounts (is_partial: the week to the as-of date, not over yet)
select
    week_end,
    any_value(is_partial) as is_partial,
    sum(events) as events,
    count(*) filter (where events > 0) as active_accounts,
    count(*) as accounts
from int_account_weeks
where list_contains($account_ids, account_id)
    -- the week to date and the complete weeks before it: $weeks in all
    and week_end >= date_trunc('week', (select as_of from params))::date - (7 * ($weeks - 1))::integer
group by week_end
order by week_end
