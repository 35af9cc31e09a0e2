-- one row per active account in a detractor episode (NPS answers at or below nps_max): a trigger episode
-- Same columns in every int_trigger_* file; int_action_triggers.sql stacks them.
with
    params as (select * from params),
    accounts as (select * from stg_accounts),
    users as (select * from stg_users),
    surveys as (select * from stg_surveys),
    live as (select * from accounts where churn_date is null),
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
    )
select * from detractor
