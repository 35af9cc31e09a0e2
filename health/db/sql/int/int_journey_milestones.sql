-- one row per account: the date each journey milestone was first reached, up to the as-of date
with
    accounts as (select * from stg_accounts),
    -- not kept whole in memory: each part below reads only the days it needs
    event_days as not materialized (select * from int_event_days),
    features as (select * from int_journey_features),
    feature_weeks as (select * from int_feature_weeks),
    weeks as (select * from int_account_weeks),
    touchpoints as (select * from stg_touchpoints),
    subscriptions as (select * from stg_subscriptions),
    surveys as (select * from stg_surveys),
    users as (select * from stg_users),
    onboarding as (
        select account_id, min(occurred_at)::date as on_date
        from touchpoints where kind in ('kickoff', 'onboarding') group by all
    ),
    -- (the days with an event per account are int_account_days', a table a fifth the size)
    first_event as (select account_id, min(day) as on_date from int_account_days group by all),
    first_value as (
        select e.account_id, min(e.day) as on_date
        from event_days as e join features as f on f.feature = e.feature and f.is_value
        group by all
    ),
    -- Core features used in the 4 weeks ending at each week (a week counts for itself and 3 after).
    core_window as (
        select fw.account_id, (fw.week_end + (7 * k)::INTEGER)::date as week_end,
            count(distinct fw.feature) as core_features
        from feature_weeks as fw
        join features as f on f.feature = fw.feature and f.is_core,
            range(0, $window_days // 7) as r(k)
        group by all
    ),
    known_users as (select account_id, count(*) as n from users group by all),
    activity as (
        select w.account_id, w.week_end,
            max(w.active_users) over recent_weeks as peak_users,
            count(*) filter (where w.events > 0) over last_weeks as active_weeks
        from weeks as w
        window
            recent_weeks as (partition by w.account_id order by w.week_end
                         rows between ($window_days // 7 - 1) preceding and current row),
            last_weeks as (partition by w.account_id order by w.week_end
                           rows between ($of_weeks - 1) preceding and current row)
    ),
    activated as (
        select a.account_id, min(a.week_end) as on_date
        from activity as a
        join core_window as c using (account_id, week_end)
        left join known_users as k using (account_id)
        where c.core_features >= $min_core_features
          and a.peak_users >= least($min_users, coalesce(nullif(k.n, 0), $min_users))
        group by all
    ),
    adopted as (
        select a.account_id, min(a.week_end) as on_date
        from activity as a join activated as act using (account_id)
        where a.week_end >= act.on_date and a.active_weeks >= $min_active_weeks
        group by all
    ),
    expanding as (
        select account_id, min(start_date) as on_date
        from (
            select account_id, start_date,
                mrr > lag(mrr) over w or seats > lag(seats) over w as grew
            from subscriptions
            window w as (partition by account_id order by start_date)
        )
        where grew group by all
    ),
    advocate as (
        select account_id, min(responded_at)::date as on_date
        from surveys where score >= 9 group by all
    )
select
    a.account_id,
    a.signup_date,
    coalesce(o.on_date, fe.on_date) as onboarding_on,
    fv.on_date as first_value_on,
    act.on_date as activated_on,
    ad.on_date as adopted_on,
    ex.on_date as expanding_on,
    adv.on_date as advocate_on,
    date_diff('day', a.signup_date, fv.on_date) as ttv_days,
    date_diff('day', a.signup_date, act.on_date) as days_to_activate
from accounts as a
left join onboarding as o using (account_id)
left join first_event as fe using (account_id)
left join first_value as fv using (account_id)
left join activated as act using (account_id)
left join adopted as ad using (account_id)
left join expanding as ex using (account_id)
left join advocate as adv using (account_id)
