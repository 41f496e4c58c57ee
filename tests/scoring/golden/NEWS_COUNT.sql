SELECT count(*) FROM news
