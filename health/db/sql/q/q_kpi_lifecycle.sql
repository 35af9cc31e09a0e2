-- one row per group per calendar week (the last one to the as-of date, partial) per lifecycle status: users (dormant negative)
with
    params as (select * from params),
    user_days as (select * from int_user_days),
    -- The accounts asked for, each with its group (see accounts_by in macros.sql).
    scope as (select * from accounts_by($by, $segments, $account_ids)),
    active as (
        -- calendar weeks back from the as-of date's week (0: the week to date)
        select distinct s."group", d.user_id,
            (date_trunc('week', p.as_of)::date - date_trunc('week', d.day)::date) // 7 as weeks_ago
        from user_days as d
        join scope as s using (account_id)
        cross join params as p
    ),
    -- All history counts for "first active": a user first seen before the window is not new.
    firsts as (select "group", user_id, max(weeks_ago) as first_week from active group by all),
    flags as (
        select f."group", f.user_id, f.first_week, k.weeks_ago,
            cur.user_id is not null as is_active, prev.user_id is not null as was_active
        from firsts as f
        cross join range(0, $weeks::integer) as k(weeks_ago)
        left join active as cur
            on cur."group" = f."group" and cur.user_id = f.user_id
            and cur.weeks_ago = k.weeks_ago
        left join active as prev
            on prev."group" = f."group" and prev.user_id = f.user_id
            and prev.weeks_ago = k.weeks_ago + 1
        where f.first_week >= k.weeks_ago
    ),
    counts as (
        select "group", weeks_ago,
            count(*) filter (where is_active and first_week = weeks_ago) as new,
            count(*) filter (where is_active and was_active) as "returning",
            count(*) filter (where is_active and not was_active and first_week > weeks_ago)
                as resurrecting,
            -count(*) filter (where was_active and not is_active) as dormant
        from flags group by all
    ),
    long as (
        unpivot counts on new, "returning", resurrecting, dormant into name status value users
    ),
    statuses as (
        select * from (values (1, 'new'), (2, 'returning'), (3, 'resurrecting'), (4, 'dormant'))
            as t(status_order, status)
    )
select
    g."group",
    least((date_trunc('week', p.as_of)::date - (7 * k.weeks_ago)::integer + 6)::date, p.as_of)
        as week_end,
    k.weeks_ago,
    k.weeks_ago = 0 and isodow(p.as_of) <> 7 as is_partial,
    st.status,
    coalesce(l.users, 0) as users
from (select distinct "group" from firsts) as g
cross join range(0, $weeks::integer) as k(weeks_ago)
cross join statuses as st
cross join params as p
left join long as l on l."group" = g."group" and l.weeks_ago = k.weeks_ago and l.status = st.status
order by g."group", week_end, st.status_order
