"Reads the sending user's MT credential (Jasmin's MtMessagingCredential) into the sender"
c = routable.user.mt_credential
routable.pdu.params['source_addr'] = '%s:%s:%s:%s:%s' % (
    routable.user.username,
    c.getAuthorization('http_send'),
    c.getValueFilter('destination_address').pattern.decode(),
    c.getQuota('balance'),
    c.getQuota('submit_sm_count'))
