SET LOCAL work_mem = '1GB'; SET LOCAL maintenance_work_mem = '1GB'
