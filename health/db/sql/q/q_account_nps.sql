-- one row per NPS answer from one account, newest first
select s.responded_at::date as responded_on, s.score, s.category, u.name as respondent, s.comment
from stg_surveys as s left join stg_users as u using (user_id)
where s.account_id = $account_id
order by s.responded_at desc
