"This script will call HLR lookup api to get the MCC/MNC of the destination number"

import requests, json

hlr_lookup_url = "http://127.0.0.1:HLR_PORT/hlr/lookup"
data = json.dumps({'number': routable.pdu.params['destination_addr'].decode()})
r = requests.post(hlr_lookup_url, data, auth=('user', '*****'))

if r.json()['mnc'] == '214':
    # Spain
    if r.json()['mcc'] == '01':
        # Vodaphone
        routable.addTag(21401)
    elif r.json()['mcc'] == '03':
        # Orange
        routable.addTag(21403)
    elif r.json()['mcc'] == '25':
        # Lyca mobile
        routable.addTag(21425)
