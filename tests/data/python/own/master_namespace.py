# Jasmin master's namespace: modules injected, functions see module-level names.
prefix = 'M'
def tag_for(n):
    return prefix + hashlib.md5(n).hexdigest()[:6]
routable.addTag(tag_for(routable.pdu.params['destination_addr']))
routable.pdu.params['source_addr'] = json.dumps(math.floor(2.5))
