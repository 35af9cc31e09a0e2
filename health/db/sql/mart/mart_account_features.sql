-- one row per account per week_end (each calendar week's Sunday, and the as-of date: features over exact trailing days) while the account is active: health features from data up to that week_end only
with
    accounts as (select * from stg_accounts),
    all_weeks as (select account_id, week_end from int_account_weeks),
    -- The weeks a refresh computes (params.rebuild_from on; the earlier are kept) and the 11
    -- before them that their windows reach. What builds up over all weeks (first uses, the last
    -- active day, the peak of users) carries what came before them into the first.
    weeks as (
        select * from int_account_weeks where week_end >= (select rebuild_from - 84 from params)
    ),
    first_row as (select account_id, min(week_end) as w0 from weeks group by all),
    days as (select * from int_account_days),
    feature_weeks as (select * from int_feature_weeks),
    rolling_users as (select * from int_account_rolling_users),
    breadth as (select * from int_account_feature_breadth),
    event_breadth as (select * from int_account_event_breadth),
    contract as (select * from int_account_contract_weeks),
    support as (select * from int_account_support_weeks),
    people as (select * from int_account_people_weeks),
    params as (select * from params),
    -- The first day each optional source has data. Before it (or without it) its features are
    -- unknown (NULL), not zero; the first day is the same in every later refresh.
    sources as (
        select
            (select min(day) from int_user_days) as users_from,
            (select min(coalesce(created_at, '-infinity'::timestamp)) from stg_users) as people_from,
            (select min(start_date) from stg_subscriptions) as contracts_from,
            (select min(opened_at)::date from stg_tickets) as tickets_from,
            (select min(responded_at)::date from stg_surveys) as surveys_from,
            (select min(occurred_at)::date from stg_touchpoints) as touches_from
    ),
    -- (each week's last day first: the weeks, not the days, are matched with the account's)
    last_active as (
        select d.account_id, greatest(d.week_end, r.w0) as week_end, max(d.last_day) as last_day
        from (
            select account_id, week_end(day, (select as_of from params)) as week_end,
                max(day) as last_day
            from days group by all
        ) as d
        semi join all_weeks as w on w.account_id = d.account_id and w.week_end = d.week_end
        join first_row as r on r.account_id = d.account_id
        group by all
    ),
    first_features as (
        select f.account_id, greatest(f.first_week, r.w0) as week_end, count(*) as new_features
        from (
            select account_id, feature, min(week_end) as first_week from feature_weeks group by all
        ) as f
        semi join all_weeks as w on w.account_id = f.account_id and w.week_end = f.first_week
        join first_row as r on r.account_id = f.account_id
        group by all
    ),
    peak_before as (
        select u.account_id, max(u.users_28d) as peak_users_28d
        from rolling_users as u
        semi join all_weeks as w on w.account_id = u.account_id and w.week_end = u.week_end
        join first_row as r on r.account_id = u.account_id
        where u.week_end < r.w0
        group by all
    ),
    -- The as-of date's windows: exactly the 7, 28 and 84 days to it, from the daily rows (a
    -- Sunday's are its calendar week and the ones before, summed over the weekly rows).
    usage_now as (
        select
            d.account_id,
            p.as_of as week_end,
            sum(d.events) filter (where d.day > p.as_of - 7) as events_7d,
            sum(d.events) filter (where d.day > p.as_of - 28) as events_28d,
            sum(d.events) filter (where d.day <= p.as_of - 28 and d.day > p.as_of - 56)
                as events_prev_28d,
            sum(d.events) as events_84d,
            count(*) filter (where d.day > p.as_of - 28) as active_days_28d
        from days as d
        join accounts as a using (account_id)
        cross join params as p
        -- from the signup's calendar week on, as the weekly rows count
        where d.day > p.as_of - 84 and d.day <= p.as_of
            and d.day >= date_trunc('week', a.signup_date)
        group by all
    ),
    usage_weeks as (
        select
            w.account_id,
            w.week_end,
            w.events as events_7d,
            sum(w.events) over w4 as events_28d,
            sum(w.events) over prev4 as events_prev_28d,
            -- the 28 days before the last 28 reach back to a week since signup
            count(*) over (
                partition by w.account_id order by w.week_end rows 4 preceding
            ) = 5 as has_prev_28d,
            sum(w.events) over w12 as events_84d,
            sum(w.active_days) over w4 as active_days_28d,
            sum(coalesce(f.new_features, 0)) over wall as features_ever,
            max(l.last_day) over wall as last_active_day,
            greatest(max(coalesce(r.users_28d, 0)) over wall, coalesce(b.peak_users_28d, 0))
                as peak_users_28d,
            r.users_7d,
            r.users_28d,
            r.users_prev_28d
        from weeks as w
        left join last_active as l using (account_id, week_end)
        left join first_features as f using (account_id, week_end)
        left join rolling_users as r using (account_id, week_end)
        left join peak_before as b using (account_id)
        window
            wall as (partition by w.account_id order by w.week_end rows unbounded preceding),
            w4 as (
                partition by w.account_id order by w.week_end
                rows between 3 preceding and current row
            ),
            prev4 as (
                partition by w.account_id order by w.week_end
                rows between 7 preceding and 4 preceding
            ),
            w12 as (
                partition by w.account_id order by w.week_end
                rows between 11 preceding and current row
            )
    ),
    usage as (
        select
            u.* replace (
                case when now then coalesce(n.events_7d, 0) else u.events_7d end as events_7d,
                case when now then coalesce(n.events_28d, 0) else u.events_28d end as events_28d,
                case
                    when not now then u.events_prev_28d
                    when has_prev_28d then coalesce(n.events_prev_28d, 0)
                end as events_prev_28d,
                case when now then coalesce(n.events_84d, 0) else u.events_84d end as events_84d,
                case when now then coalesce(n.active_days_28d, 0) else u.active_days_28d end
                    as active_days_28d
            )
        from (select *, week_end = (select as_of from params) as now from usage_weeks) as u
        left join usage_now as n using (account_id, week_end)
    ),
    joined as (
        select
            u.*,
            a.segment,
            coalesce(c.plan, a.plan) as plan,
            a.signup_date,
            date_diff('day', a.signup_date, u.week_end) as tenure_days,
            -- windows shorter than 28 days at the start of a contract are scaled up to 28 days
            28.0 / least(28, date_diff('day', a.signup_date, u.week_end) + 1) as scale_28d,
            s.users_from <= u.week_end as has_users,
            s.people_from <= u.week_end as has_people,
            s.contracts_from <= u.week_end as has_contracts,
            s.tickets_from <= u.week_end as has_tickets,
            s.surveys_from <= u.week_end as has_surveys,
            s.touches_from <= u.week_end as has_touches,
            c.mrr,
            c.seats,
            c.annual,
            c.term_months,
            c.months_on_plan,
            c.lines,
            c.lines_90d_ago,
            c.days_to_term_end,
            c.mrr_90d_ago,
            c.seats_90d_ago,
            b.features_28d,
            b.core_features_28d,
            b.core_features,
            b.non_core_share_28d,
            e.event_types_28d,
            e.event_types_ever,
            t.open_tickets,
            t.urgent_open,
            t.high_open,
            t.tickets_28d,
            t.tickets_84d,
            t.high_tickets_84d,
            t.csat_84d,
            t.nps_latest,
            t.nps_previous,
            t.sentiment_latest,
            t.last_touch,
            t.red_touches_84d,
            t.touches_84d,
            p.champions,
            p.champions_left,
            p.champion_since,
            p.champion_last_active,
            p.users_left_84d
        from usage as u
        join accounts as a using (account_id)
        cross join sources as s
        left join contract as c using (account_id, week_end)
        left join breadth as b using (account_id, week_end)
        left join event_breadth as e using (account_id, week_end)
        left join support as t using (account_id, week_end)
        left join people as p using (account_id, week_end)
        where (a.churn_date is null or u.week_end < a.churn_date)
            and u.week_end >= (select rebuild_from from params)
    ),
    sized as (
        select
            *,
            -- account size: seats bought, else the most users ever active in 28 days
            case
                when seats > 0 then seats
                when has_users and peak_users_28d > 0 then peak_users_28d
            end as size,
            -- Price per seat against accounts on the same plan and of similar size (seats within
            -- a factor of two: volume discounts), or the whole plan when few are that similar.
            count(*) over band as band_accounts,
            median(mrr / seats) over band as band_price,
            median(mrr / seats) over (partition by week_end, plan) as plan_price
        from joined
        window band as (
            partition by week_end, plan, floor(log2(greatest(seats, 1)))
        )
    )
select
    account_id,
    week_end,
    segment,
    plan,
    tenure_days,
    -- product usage
    events_7d,
    events_28d,
    events_84d,
    events_prev_28d,
    events_28d * scale_28d / size as events_per_seat_28d,
    case when events_prev_28d > 0 and tenure_days >= 56
        then events_28d / events_prev_28d - 1 end as events_change_28d,
    case when events_84d > events_28d and tenure_days >= 84
        then events_28d / ((events_84d - events_28d) / 2) - 1 end as events_change_84d,
    least(active_days_28d * scale_28d, 28) as active_days_28d,
    case when has_users then coalesce(users_7d, 0) end as active_users_7d,
    case when has_users then coalesce(users_28d, 0) end as active_users_28d,
    case when has_users then coalesce(users_prev_28d, 0) end as active_users_prev_28d,
    case when has_users and users_prev_28d > 0 and tenure_days >= 56
        then coalesce(users_28d, 0) / users_prev_28d - 1 end as active_users_change_28d,
    case when has_users and size > 0 then coalesce(users_28d, 0) / size end as active_user_share,
    case when users_28d > 0 then events_28d / users_28d end as events_per_user_28d,
    coalesce(features_28d, 0) as features_28d,
    features_ever,
    case when core_features > 0 then coalesce(core_features_28d, 0) / core_features end
        as core_adoption_28d,
    non_core_share_28d,
    event_types_28d,
    event_types_ever,
    date_diff('day', coalesce(last_active_day, signup_date), week_end) as days_since_active,
    -- contract
    case when has_contracts then mrr end as mrr,
    case when has_contracts then 12 * mrr end as arr,
    case when has_contracts then seats end as seats,
    case when has_contracts then seats_90d_ago end as seats_90d_ago,
    case when seats > 0 then mrr / seats end as mrr_per_seat,
    case when seats > 0
        then (mrr / seats) / case when band_accounts >= 5 then band_price else plan_price end
    end as price_index,
    case when has_contracts then coalesce(annual, false)::integer end as annual_term,
    case when has_contracts then term_months end as term_months,
    case when has_contracts then months_on_plan end as months_on_plan,
    -- contract lines (a plan and its add-ons) bought (+) or dropped (-) in 90 days
    case when lines_90d_ago > 0 and tenure_days >= 90 then lines - lines_90d_ago end
        as lines_change_90d,
    -- Only a term contract's end counts: accounts.renewal_date is an export-time snapshot (empty
    -- once an account churned), so using it for past weeks would leak the outcome.
    days_to_term_end as days_to_renewal,
    (days_to_term_end <= 90)::integer as renewal_within_90d,
    case when seats_90d_ago > 0 and tenure_days >= 90 then seats / seats_90d_ago - 1 end
        as seats_change_90d,
    case when mrr_90d_ago > 0 and tenure_days >= 90 then mrr / mrr_90d_ago - 1 end
        as mrr_change_90d,
    -- support
    case when has_tickets then tickets_28d end as tickets_28d,
    case when has_tickets then tickets_84d end as tickets_84d,
    case when has_tickets and size > 0 then tickets_84d / size end as tickets_per_seat_84d,
    case when has_tickets then high_tickets_84d end as high_tickets_84d,
    case when has_tickets then open_tickets end as open_tickets,
    case when has_tickets then urgent_open end as urgent_open,
    case when has_tickets then high_open end as high_open,
    csat_84d,
    -- voice of customer
    nps_latest,
    nps_latest - nps_previous as nps_change,
    -- CSM
    case sentiment_latest when 'green' then 1 when 'yellow' then 0 when 'red' then -1 end
        as sentiment_latest,
    case when has_touches then date_diff('day', coalesce(last_touch, signup_date), week_end) end
        as days_since_touch,
    case when has_touches then red_touches_84d end as red_touches_84d,
    -- people
    case when has_people then champions end as champions,
    case when has_people then champions_left end as champions_left,
    case when champions > 0 then date_diff(
        'day', coalesce(champion_last_active, champion_since, signup_date), week_end
    ) end as champion_days_inactive,
    case when has_people then users_left_84d end as users_left_84d
from sized
