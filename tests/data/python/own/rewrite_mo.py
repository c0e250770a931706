routable.pdu.params['short_message'] = routable.pdu.params['short_message'].upper()
routable.addTag('mo-seen')
