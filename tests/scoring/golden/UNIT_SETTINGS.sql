SET LOCAL work_mem = '64MB'; SET LOCAL random_page_cost = 1.1
