"""SQL of the open aggregates: the cities to publish and the stored publications.

The figures themselves are read from the scoring jobs' results through
``scoring.reads`` (``city_weeks``, ``city_campaign_weeks``).
"""

CITIES = "SELECT id, code, name, time_zone, languages FROM cities ORDER BY code"

# Every district of city $1, retired ones included (their weeks before retirement are published).
DISTRICTS = "SELECT id, code, active FROM districts WHERE city_id = $1 ORDER BY code"

PUBLISHED_DIGEST = "SELECT digest FROM open_data_publications WHERE city_id = $1"

# A publication whose figures changed; modified_at moves only then.
STORE = """
INSERT INTO open_data_publications AS p
    (city_id, digest, modified_at, checked_at, first_week, last_week, rows, suppressed, json_body, csv_body)
VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (city_id) DO UPDATE SET
    digest = excluded.digest, modified_at = excluded.modified_at, checked_at = excluded.checked_at,
    first_week = excluded.first_week, last_week = excluded.last_week, rows = excluded.rows,
    suppressed = excluded.suppressed, json_body = excluded.json_body, csv_body = excluded.csv_body
"""

CHECKED = "UPDATE open_data_publications SET checked_at = $2 WHERE city_id = $1"

# What a request needs to answer 304 or find its cached body: one primary-key read.
CURRENT = "SELECT digest, modified_at FROM open_data_publications WHERE city_id = $1"

JSON_BODY = "SELECT digest, json_body FROM open_data_publications WHERE city_id = $1"

CSV_BODY = "SELECT digest, csv_body FROM open_data_publications WHERE city_id = $1"

# The metadata of every publication, for the DCAT-AP documents.
METADATA = "SELECT city_id, modified_at, first_week, last_week FROM open_data_publications"

METADATA_OF = "SELECT modified_at, first_week, last_week FROM open_data_publications WHERE city_id = $1"
