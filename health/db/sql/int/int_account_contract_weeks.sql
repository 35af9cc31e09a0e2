-- one row per account per week with a subscription started by week_end: the contract then, and 90 days before
with
    weeks as (select account_id, week_end from int_account_weeks),
    subscriptions as (select * from stg_subscriptions),
    periods as (
        select
            account_id,
            start_date,
            mrr,
            seats,
            plan,
            -- A period lasting a whole number of years is a term contract: its end (the renewal)
            -- was known when it was signed. Other end dates (a cancellation) are not used before
            -- they happen, so they cannot leak a churn into an earlier snapshot.
            end_date is not null
                and date_diff('day', start_date, end_date) >= 360
                and abs(
                    date_diff('day', start_date, end_date)
                    - 365.25 * round(date_diff('day', start_date, end_date) / 365.25)
                ) <= 3 as is_term
        from subscriptions
    ),
    terms as (
        select
            *,
            bool_or(is_term) over (
                partition by account_id order by start_date rows unbounded preceding
            ) as annual
        from periods
    ),
    current as (
        select w.account_id, w.week_end, t.start_date, t.mrr, t.seats, t.plan, t.annual
        from weeks as w
        asof join terms as t on w.account_id = t.account_id and w.week_end >= t.start_date
    ),
    earlier as (
        select w.account_id, w.week_end, t.mrr as mrr_90d_ago, t.seats as seats_90d_ago
        from weeks as w
        asof join terms as t
            on w.account_id = t.account_id and (w.week_end - 90)::date >= t.start_date
    )
select
    c.account_id,
    c.week_end,
    c.mrr,
    c.seats,
    c.plan,
    c.annual,
    date_diff('day', c.start_date, c.week_end) as days_in_term,
    -- renewal: the next anniversary of the current term's start, for accounts on annual terms
    case when c.annual then date_diff(
        'day',
        c.week_end,
        (c.start_date + to_years(datesub('year', c.start_date, c.week_end)::integer + 1))::date
    ) end as days_to_term_end,
    e.mrr_90d_ago,
    e.seats_90d_ago
from current as c
left join earlier as e using (account_id, week_end)
