-- one row per trigger episode with its playbook: the action's id, owner, priority and the facts its texts are filled with
-- priority = max(arr, arr_floor) x risk x proximity, where
--   risk = 1 - (1 - churn_risk) x (1 - weight x severity): the account's churn risk, raised by
--          this trigger (so an account's triggers rank by their own weight too)
--   proximity = 1 + max(0, 1 - days_to_renewal / renewal_horizon_days): 2 on the renewal day,
--          1 at the horizon or with no renewal ahead
with
    params as (select * from params),
    triggers as (select * from int_action_triggers),
    playbooks as (select * from action_playbooks),
    accounts as (select * from stg_accounts),
    health as (select * from mart_account_health),
    users as (select * from stg_users),
    -- each user's last active day, from the moments' per-user rollup of int_user_days
    activity as (select * from int_moment_user_activity),
    matched as (
        -- a moment kind without its own playbook gets its moment's generic one
        select t.*, coalesce(b.reason, g.reason) as playbook
        from triggers as t
        left join playbooks as b on b.reason = t.reason
        left join playbooks as g on g.reason = 'any_' || t.reason_kind
    ),
    last_seen as (select user_id, max(last_day) as day from activity group by all),
    contacts as (
        -- who the email goes to: an active champion, else an active admin, else the most
        -- recently active user
        select u.account_id, u.name
        from users as u
        left join last_seen as s using (user_id)
        -- the accounts with a trigger only (each account ranks its own users)
        where u.deactivated_at is null and u.account_id in (select account_id from triggers)
        qualify row_number() over (
            partition by u.account_id
            order by u.is_champion desc, (u.role = 'admin') desc, s.day desc nulls last,
                u.user_id
        ) = 1
    ),
    scored as (
        select
            m.*,
            b.title,
            b.detail,
            b.questions_or_recognition,
            b.email_subject,
            b.email_body,
            b.due_in_days,
            b.unless_open,
            b.holdout,
            a.name as account,
            a.csm_owner as owner,
            a.arr,
            a.renewal_date,
            a.churn_date is null as account_active,
            h.churn_risk,
            c.name as contact,
            case when a.renewal_date >= p.as_of
                then date_diff('day', p.as_of, a.renewal_date) end as days_to_renewal,
            greatest(coalesce(a.arr, 0), $arr_floor) as stake,
            1 - (1 - least(greatest(coalesce(h.churn_risk, 0), 0), 1))
                * (1 - least(greatest(b.weight * m.severity, 0), 1)) as risk
        from matched as m
        join playbooks as b on b.reason = m.playbook
        join accounts as a using (account_id)
        cross join params as p
        left join health as h using (account_id)
        left join contacts as c using (account_id)
    )
select
    left(md5(to_json([account_id, reason, started_on::varchar])::varchar), 16) as action_id,
    account_id,
    account,
    owner,
    reason_kind,
    reason,
    title,
    detail,
    questions_or_recognition,
    email_subject,
    email_body,
    evidence,
    round(
        stake * risk
        * (1 + greatest(0, 1 - coalesce(days_to_renewal, $renewal_horizon_days)
            / $renewal_horizon_days)),
        0
    ) as priority,
    due_in_days,
    started_on,
    triggered_on,
    severity,
    arr,
    churn_risk,
    renewal_date,
    days_to_renewal,
    contact,
    unless_open,
    holdout,
    active and account_active as active,
    account_active,
    -- the facts as people read them, for the playbooks' {placeholders}
    account as f_account,
    coalesce(contact, 'their main contact') as f_champion,
    coalesce(nullif(split_part(contact, ' ', 1), ''), 'there') as f_champion_first,
    case when owner = 'Unassigned' then 'the Customer Success team' else owner end as f_csm,
    coalesce(evidence, 'see the account page') as f_evidence,
    case when arr is null then 'unknown' else format('${:,.0f}', arr) end as f_arr,
    coalesce(strftime(renewal_date, '%-d %b %Y'), 'not set') as f_renewal,
    coalesce(days_to_renewal::varchar, 'n/a') as f_days_to_renewal,
    case when churn_risk is null then 'unknown'
        else format('{:d} %', round(100 * churn_risk)::integer) end as f_churn_risk,
    strftime(started_on, '%-d %b %Y') as f_started
from scored
