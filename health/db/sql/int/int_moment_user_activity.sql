-- one row per user with activity: first and last active day, active days, active days in the 8 weeks up to the last (a refresh after new days updates only the users with new days)
with
    -- not copied whole (DuckDB materialises a CTE read twice): each use scans what it needs
    user_days as not materialized (select * from int_user_days),
    activity as (
        select account_id, user_id, min(day) as first_day, max(day) as last_day, count(*) as active_days
        from user_days group by all
    ),
    recent as (
        select d.account_id, d.user_id, count(*) as active_days_8w
        from user_days as d join activity as a using (account_id, user_id)
        where d.day > a.last_day - 56
        group by all
    )
select a.account_id, a.user_id, a.first_day, a.last_day, a.active_days, r.active_days_8w
from activity as a
join recent as r using (account_id, user_id)
