http_status = 404
