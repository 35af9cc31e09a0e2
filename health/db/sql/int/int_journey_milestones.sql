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
    -- Core features used in the 4 weeks ending at each week (a week counts for itself and 3 after):
    -- each core feature is a bit (of a 64-bit word; as many words as it takes), the bits of an
    -- account's week are or-ed first, so the window spreads one row per account-week, not one
    -- per feature; the count of distinct features is the count of bits set.
    core_bits as (
        select feature, n // 64 as word, (1::UBIGINT << (n % 64)::INTEGER) as bit
        from (select feature, row_number() over (order by feature) - 1 as n
              from features where is_core)
    ),
    core_weeks as (
        select fw.account_id, fw.week_end, c.word, bit_or(c.bit) as bits
        from feature_weeks as fw join core_bits as c using (feature)
        group by all
    ),
    core_spread as (
        select w.account_id, (w.week_end + (7 * k)::INTEGER)::date as week_end, w.word,
            bit_or(w.bits) as bits
        from core_weeks as w, range(0, $window_days // 7) as r(k)
        group by all
    ),
    core_window as (
        select account_id, week_end, sum(bit_count(bits))::BIGINT as core_features
        from core_spread group by all
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
