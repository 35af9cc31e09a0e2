-- the week a day falls in: ISO calendar weeks (Monday to Sunday), named by their Sunday; the week
-- holding the as-of date ends on it (partial, week to date), so no week ends after the as-of date
CREATE OR REPLACE MACRO week_end(d, as_of) AS least((date_trunc('week', d::date) + INTERVAL 6 DAY)::date, as_of::date);
-- one row per account asked for (NULL list = all), with its group under the breakdown: the one
-- place that maps an account to its group. `breakdown` is an allow-listed name, checked in
-- health/analytics/metrics.py (BREAKDOWNS); NULL puts every account in 'All'.
CREATE OR REPLACE MACRO accounts_by(breakdown, segment_filter, id_filter) AS TABLE
    SELECT
        a.*,
        CASE WHEN breakdown IS NULL THEN 'All' ELSE coalesce(CASE breakdown
            WHEN 'segment' THEN a.segment WHEN 'plan' THEN a.plan
            WHEN 'industry' THEN a.industry WHEN 'region' THEN a.region
            WHEN 'csm_owner' THEN a.csm_owner
            WHEN 'cohort_month' THEN strftime(a.signup_date, '%Y-%m')
            WHEN 'cohort_quarter' THEN strftime(a.signup_date, '%Y') || '-Q' || quarter(a.signup_date)
        END, '(not set)') END AS "group"
    FROM stg_accounts AS a
    WHERE (segment_filter::VARCHAR[] IS NULL OR list_contains(segment_filter::VARCHAR[], a.segment))
      AND (id_filter::VARCHAR[] IS NULL OR list_contains(id_filter::VARCHAR[], a.account_id));
