-- one row per group per moment type: moments detected in the last $days days per 100 accounts
with
    params as (select * from params),
    moments as (select * from moments),
    -- The accounts asked for, each with its group under $by (see accounts_by in macros.sql).
    scope as (select * from accounts_by($by, null, $account_ids)),
    -- The denominator: accounts that were customers at some point in the window.
    exposed as (
        select s."group", s.account_id
        from scope as s
        cross join params as p
        where list_contains($groups::varchar[], s."group")
          and s.signup_date <= p.as_of
          and (s.churn_date is null or s.churn_date > p.as_of - $days::integer)
    ),
    sizes as (select "group", count(*) as accounts from exposed group by all),
    found as (
        select e."group", m.moment, count(*) as moments,
            count(distinct m.account_id) as accounts_with_moment
        from exposed as e
        join moments as m using (account_id)
        cross join params as p
        where m.detected_on > p.as_of - $days::integer and m.detected_on <= p.as_of
        group by all
    ),
    -- Every moment type seen anywhere, so a group without one shows 0 rather than nothing.
    types as (select distinct moment from moments where moment is not null)
select
    s."group",
    t.moment,
    coalesce(f.moments, 0) as moments,
    coalesce(f.accounts_with_moment, 0) as accounts_with_moment,
    s.accounts,
    100.0 * coalesce(f.moments, 0) / s.accounts as per_100_accounts
from sizes as s
cross join types as t
left join found as f using ("group", moment)
order by s."group", t.moment
