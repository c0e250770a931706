smpp_status = 'ten'
http_status = 404
