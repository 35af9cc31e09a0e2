-- one row per account in the chosen groups: its group under the chosen breakdown
with
    -- The accounts asked for, each with its group under $by (see accounts_by in macros.sql).
    scope as (select * from accounts_by($by, null, $account_ids))
select account_id, "group"
from scope
where list_contains($groups::varchar[], "group")
order by "group", account_id
