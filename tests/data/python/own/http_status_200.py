http_status = 200
