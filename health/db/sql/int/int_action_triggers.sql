-- one row per trigger episode (account, reason, started_on): every moment up to the as-of date, and every risk signal that holds at it
-- A risk episode's started_on is a calendar fact (a ticket opened, a last activity, a renewal
-- date, a Monday) that does not move while the signal holds, whatever day the refresh runs:
-- the action's id is made from it, so one episode is one action.
with
    params as (select * from params),
    accounts as (select * from stg_accounts),
    moments as (select * from moments),
    health as (select * from mart_account_health),
    history as (select * from mart_health_history),
    account_days as (select * from int_account_days),
    user_days as (select * from int_user_days),
    users as (select * from stg_users),
    tickets as (select * from stg_tickets),
    surveys as (select * from stg_surveys),
    touchpoints as (select * from stg_touchpoints),
    live as (select * from accounts where churn_date is null),

    from_moments as (
        select
            m.account_id,
            m.moment as reason_kind,
            m.kind as reason,
            coalesce(m.started_on, m.detected_on) as started_on,
            m.detected_on as triggered_on,
            coalesce(m.severity, 0.5) as severity,
            m.evidence,
            a.churn_date is null and m.detected_on > p.as_of - $moment_max_age_days as active
        from moments as m
        join accounts as a using (account_id)
        cross join params as p
        where m.detected_on <= p.as_of
    ),

    -- renewal_at_risk: at-risk tier with the renewal close; one episode per renewal date
    last_not_at_risk as (
        select account_id, max(week_end) as week_end
        from history where tier <> 'at_risk' group by all
    ),
    at_risk_since as (
        select h.account_id, min(h.week_end) as since
        from history as h
        left join last_not_at_risk as n using (account_id)
        where h.tier = 'at_risk' and (n.week_end is null or h.week_end > n.week_end)
        group by all
    ),
    renewal as (
        select
            a.account_id,
            'risk' as reason_kind,
            'renewal_at_risk' as reason,
            (a.renewal_date - $renewal_days::integer)::date as started_on,
            greatest(a.renewal_date - $renewal_days::integer, coalesce(s.since, p.as_of))::date
                as triggered_on,
            least(greatest(coalesce(h.churn_risk, 0.5), 0), 1) as severity,
            format(
                'health tier at risk (churn risk {:d} %) with the renewal on {}, in {:d} days',
                round(100 * coalesce(h.churn_risk, 0))::integer,
                strftime(a.renewal_date, '%-d %b %Y'),
                date_diff('day', p.as_of, a.renewal_date)
            ) as evidence,
            true as active
        from live as a
        join health as h using (account_id)
        left join at_risk_since as s using (account_id)
        cross join params as p
        where h.tier = 'at_risk'
            and a.renewal_date between p.as_of and p.as_of + $renewal_days::integer
    ),

    -- usage_decline: Monday-to-Sunday weeks complete by the as-of date, the last 60 at most
    calendar_weeks as (
        select a.account_id, r.week_start::date as week_start
        from live as a
        cross join params as p
        cross join lateral (
            select unnest(range(
                greatest(
                    date_trunc('week', a.signup_date),
                    date_trunc('week', p.as_of - 6) - interval 60 week
                ),
                date_trunc('week', p.as_of - 6) + interval 1 week,
                interval 1 week
            )) as week_start
        ) as r
    ),
    day_weeks as (
        select account_id, date_trunc('week', day)::date as week_start, sum(events) as events
        from account_days group by all
    ),
    weekly as (
        select w.account_id, w.week_start, coalesce(d.events, 0) as events
        from calendar_weeks as w
        left join day_weeks as d using (account_id, week_start)
    ),
    rolling as (
        select
            account_id,
            week_start,
            sum(events) over recent as events_4w,
            sum(events) over before as events_prev_4w,
            count(*) over before as weeks_before
        from weekly
        window
            recent as (partition by account_id order by week_start
                rows between 3 preceding and current row),
            before as (partition by account_id order by week_start
                rows between 7 preceding and 4 preceding)
    ),
    -- everybody's events in the same weeks: a holiday dip shared by all is not one account's
    -- decline, so an account must fall `decline_share` further than the whole base did
    market as (
        select
            week_start,
            -- too few accounts to tell a shared dip from their own declines: no adjustment
            case when count(*) >= $decline_market_accounts
                then sum(events_4w) / nullif(sum(events_prev_4w), 0) end as market_ratio
        from rolling
        where weeks_before = 4
        group by all
    ),
    declining as (
        select
            r.*,
            coalesce(
                r.weeks_before = 4
                and r.events_prev_4w >= $decline_min_events
                and r.events_4w
                    <= (1 - $decline_share) * r.events_prev_4w
                        * least(coalesce(m.market_ratio, 1), 1),
                false
            ) as declining
        from rolling as r
        left join market as m using (week_start)
    ),
    decline_runs as (
        select
            account_id,
            max(week_start) as last_week,
            max(week_start) filter (where not declining) as last_ok
        from declining group by all
    ),
    decline as (
        select
            d.account_id,
            'risk' as reason_kind,
            'usage_decline' as reason,
            min(d.week_start) as started_on,
            (min(d.week_start) + 6)::date as triggered_on,
            least(1 - arg_max(d.events_4w / d.events_prev_4w, d.week_start), 1) as severity,
            format(
                'product events down {:d} % over the last 4 complete weeks ({:d} against {:d} '
                'the 4 weeks before), declining since the week of {}',
                round(100 * (1 - arg_max(d.events_4w / d.events_prev_4w, d.week_start)))::integer,
                arg_max(d.events_4w, d.week_start)::bigint,
                arg_max(d.events_prev_4w, d.week_start)::bigint,
                strftime(min(d.week_start), '%-d %b %Y')
            ) as evidence,
            true as active
        from declining as d
        join decline_runs as r using (account_id)
        where d.declining
            and (r.last_ok is null or d.week_start > r.last_ok)
            and (r.last_ok is null or r.last_ok < r.last_week)
        group by d.account_id
    ),

    -- urgent_tickets: islands of overlapping open urgent tickets; the current island's start
    hot as (
        select t.account_id, t.ticket_id, t.opened_at, t.closed_at, t.priority, t.topic
        from tickets as t
        join live using (account_id)
        where list_contains($ticket_priorities, t.priority)
    ),
    hot_covered as (
        select
            *,
            max(coalesce(closed_at, 'infinity'::timestamp)) over (
                partition by account_id order by opened_at, ticket_id
                rows between unbounded preceding and 1 preceding
            ) as covered_until
        from hot
    ),
    hot_islands as (
        select
            *,
            sum(case when covered_until is null or opened_at > covered_until then 1 else 0 end)
                over (partition by account_id order by opened_at, ticket_id
                    rows unbounded preceding) as island
        from hot_covered
    ),
    hot_current as (
        select
            account_id,
            min(opened_at)::date as started_on,
            min(opened_at) filter (where closed_at is null)::date as oldest_open,
            count(*) filter (where closed_at is null) as open_now,
            count(*) filter (where closed_at is null and priority = 'urgent') as urgent_now,
            arg_min(topic, opened_at) filter (where closed_at is null) as topic
        from hot_islands
        group by account_id, island
        having count(*) filter (where closed_at is null) > 0
    ),
    urgent as (
        select
            h.account_id,
            'risk' as reason_kind,
            'urgent_tickets' as reason,
            h.started_on,
            (h.oldest_open + $ticket_open_days::integer)::date as triggered_on,
            least(0.5 + 0.15 * h.open_now, 1) as severity,
            format(
                '{:d} {} open ({:d} urgent), the oldest since {} ({:d} days){}',
                h.open_now,
                case when h.open_now = 1
                    then 'high-priority ticket' else 'high-priority tickets' end,
                h.urgent_now,
                strftime(h.oldest_open, '%-d %b %Y'),
                date_diff('day', h.oldest_open, p.as_of),
                case when h.topic is not null then format(': {}', h.topic) else '' end
            ) as evidence,
            true as active
        from hot_current as h
        cross join params as p
        where h.oldest_open + $ticket_open_days::integer <= p.as_of
    ),

    -- champion_inactive: every active champion silent in the product for champion_days
    champions as (
        select u.account_id, u.user_id, u.name, u.created_at
        from users as u
        join live using (account_id)
        where u.is_champion and u.deactivated_at is null
    ),
    champion_seen as (
        select c.account_id, c.user_id, c.name, max(d.day) as last_day, min(c.created_at) as created
        from champions as c
        left join user_days as d using (user_id)
        group by all
    ),
    champion_quiet as (
        select
            c.account_id,
            max(coalesce(c.last_day, c.created::date, a.signup_date)) as last_seen,
            arg_max(c.name, coalesce(c.last_day, c.created::date, a.signup_date)) as name,
            max(c.last_day) is null as never
        from champion_seen as c
        join live as a using (account_id)
        -- only accounts whose events name users: without them nobody looks active
        where c.account_id in (select account_id from user_days)
        group by all
    ),
    champion as (
        select
            c.account_id,
            'risk' as reason_kind,
            'champion_inactive' as reason,
            (c.last_seen + 1)::date as started_on,
            (c.last_seen + $champion_days::integer)::date as triggered_on,
            least(date_diff('day', c.last_seen, p.as_of) / 60, 1) as severity,
            case
                when c.never then format(
                    'champion {} has not used the product since joining ({:d} days)',
                    c.name, date_diff('day', c.last_seen, p.as_of)
                )
                else format(
                    'champion {} has not used the product for {:d} days (last active {})',
                    c.name, date_diff('day', c.last_seen, p.as_of),
                    strftime(c.last_seen, '%-d %b %Y')
                )
            end as evidence,
            true as active
        from champion_quiet as c
        cross join params as p
        where c.last_seen + $champion_days::integer <= p.as_of
    ),

    -- detractor: NPS answers <= nps_max, grouped into episodes nps_gap_days apart
    low_answers as (
        select
            s.account_id,
            s.responded_at,
            s.user_id,
            s.responded_at::date as day,
            s.score,
            s.comment,
            coalesce(u.name, s.user_id) as who,
            lag(s.responded_at::date) over (
                partition by s.account_id order by s.responded_at, s.user_id
            ) as previous_day
        from surveys as s
        join live using (account_id)
        left join users as u using (user_id)
        where s.score <= $nps_max
    ),
    low_islands as (
        select
            *,
            sum(case when previous_day is null or day - previous_day > $nps_gap_days::integer
                then 1 else 0 end)
                over (partition by account_id order by responded_at, user_id
                    rows unbounded preceding) as island
        from low_answers
    ),
    -- the episode's latest answer as one row: its score, who gave it and their own comment
    -- (aggregating each column apart would pair one person's name with another's words)
    detractor_episodes as (
        select
            l.account_id,
            min(l.day) as started_on,
            max(l.day) as last_day,
            avg(l.score) as mean_score,
            count(*) as answers,
            arg_max({'score': l.score, 'who': l.who, 'comment': l.comment},
                {'at': l.responded_at, 'user_id': l.user_id}) as latest
        from low_islands as l
        group by l.account_id, l.island
    ),
    detractor as (
        select
            d.account_id,
            'risk' as reason_kind,
            'detractor' as reason,
            d.started_on,
            d.started_on as triggered_on,
            least(0.4 + (6 - d.mean_score) * 0.1, 1) as severity,
            format(
                'NPS {:d} from {} on {}{}{}',
                d.latest.score::integer,
                d.latest.who,
                strftime(d.last_day, '%-d %b %Y'),
                case when d.latest.comment is not null
                    then format(': "{}"', left(d.latest.comment, 120)) else '' end,
                case when d.answers > 1
                    then format(' ({:d} detractor answers since {})', d.answers,
                        strftime(d.started_on, '%-d %b %Y'))
                    else '' end
            ) as evidence,
            true as active
        from detractor_episodes as d
        cross join params as p
        where d.last_day > p.as_of - $nps_gap_days::integer
    ),

    -- no_touchpoint: no CSM touchpoint for touch_days on an account whose health slips
    last_touch as (
        select account_id, max(occurred_at)::date as day, arg_max(kind, occurred_at) as kind
        from touchpoints group by all
    ),
    quiet as (
        select
            a.account_id,
            coalesce(t.day, a.signup_date) as last_seen,
            t.kind
        from live as a
        join health as h using (account_id)
        left join last_touch as t using (account_id)
        where list_contains($touch_tiers, h.tier)
            and exists (select 1 from touchpoints)
    ),
    untouched as (
        select
            q.account_id,
            'risk' as reason_kind,
            'no_touchpoint' as reason,
            (q.last_seen + 1)::date as started_on,
            (q.last_seen + $touch_days::integer)::date as triggered_on,
            least(date_diff('day', q.last_seen, p.as_of) / 180, 1) as severity,
            case
                when q.kind is null then format(
                    'no CSM touchpoint since signup ({:d} days)',
                    date_diff('day', q.last_seen, p.as_of)
                )
                else format(
                    'no CSM touchpoint for {:d} days (the last: {} on {})',
                    date_diff('day', q.last_seen, p.as_of), q.kind,
                    strftime(q.last_seen, '%-d %b %Y')
                )
            end as evidence,
            true as active
        from quiet as q
        cross join params as p
        where q.last_seen + $touch_days::integer <= p.as_of
    ),

    everything as (
        select * from from_moments
        union all by name select * from renewal
        union all by name select * from decline
        union all by name select * from urgent
        union all by name select * from champion
        union all by name select * from detractor
        union all by name select * from untouched
    )
select
    account_id,
    reason_kind,
    reason,
    started_on,
    triggered_on,
    round(severity, 3)::double as severity,
    evidence,
    active
from everything
-- one moment kind can be detected twice with one start: one episode, its first detection
qualify row_number() over (
    partition by account_id, reason, started_on order by triggered_on, evidence
) = 1
