INSERT INTO notifications
    (resident_id, city_id, kind, campaign_id, dedupe_key, title, body, data, locale, not_before, expires_at)
SELECT n.resident_id, r.city_id, 'achievement', k.id, n.kind || ':' || n.subject_id,
       replace(replace(coalesce(tpl.t -> 'title' ->> r.locale, tpl.t -> 'title' ->> 'en'),
                       '{title}', what.text), '{campaign}', campaign.text),
       replace(replace(coalesce(tpl.t -> 'body' ->> r.locale, tpl.t -> 'body' ->> 'en'),
                       '{title}', what.text), '{campaign}', campaign.text),
       jsonb_build_object('campaign', k.code,
                          CASE WHEN n.kind = 'badge' THEN 'badge' ELSE 'challenge' END, subject.code),
       r.locale, $1, $1::timestamptz + interval '3 days'
FROM (SELECT DISTINCT resident_id, kind, subject_id FROM news) n
JOIN residents r ON r.id = n.resident_id
CROSS JOIN LATERAL (
    SELECT b.campaign_id, b.code, b.title FROM badges b WHERE n.kind = 'badge' AND b.id = n.subject_id
    UNION ALL
    SELECT ch.campaign_id, ch.code, ch.title FROM challenges ch WHERE n.kind <> 'badge' AND ch.id = n.subject_id
) AS subject
JOIN campaigns k ON k.id = subject.campaign_id
CROSS JOIN LATERAL (SELECT $2::jsonb -> n.kind AS t) AS tpl
CROSS JOIN LATERAL (SELECT coalesce(subject.title ->> r.locale, subject.title ->> 'en') AS text) AS what
CROSS JOIN LATERAL (SELECT coalesce(k.title ->> r.locale, k.title ->> 'en') AS text) AS campaign
ON CONFLICT (resident_id, dedupe_key) DO NOTHING
